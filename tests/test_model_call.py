"""SigmaPipeline behaves like a diffusers pipeline: step callbacks, interrupt, custom sigmas, LoRA scale, the
progress bar, construction from Kontext components, and folders diffusers itself loads back."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline, FluxKontextPipeline

from sigmascene.errors import SigmaError
from sigmascene.model.pipeline import SigmaPipeline
from sigmascene.model.tiny import make_tiny_components, make_tiny_pipeline

from test_model_adapters import sigma_lora
from test_model_pipeline import call


@pytest.fixture(scope="module")
def pipe():
    return make_tiny_pipeline(0)


def test_callback_on_step_end_sees_and_replaces_the_latents(pipe):
    seen = []

    def zero_after_first(p, i, t, kw):
        seen.append((i, float(t), sorted(kw)))
        return {"latents": torch.zeros_like(kw["latents"])} if i == 0 else {}

    plain = call(pipe, output_type="latent").images
    changed = call(pipe, output_type="latent", callback_on_step_end=zero_after_first,
                   callback_on_step_end_tensor_inputs=["latents", "prompt_embeds"]).images
    assert [s[0] for s in seen] == [0, 1, 2] and seen[0][2] == ["latents", "prompt_embeds"]
    assert not torch.allclose(plain, changed)
    with pytest.raises(SigmaError, match="callback_on_step_end_tensor_inputs"):
        call(pipe, callback_on_step_end=zero_after_first, callback_on_step_end_tensor_inputs=["noise"])


def test_interrupt_skips_the_remaining_steps(pipe):
    steps = []

    def stop(p, i, t, kw):
        steps.append(i)
        p._interrupt = True
        return {}

    call(pipe, num_inference_steps=5, callback_on_step_end=stop, output_type="latent")
    assert steps == [0] and pipe.interrupt


def test_custom_sigmas_set_the_schedule(pipe):
    out = call(pipe, sigmas=[1.0, 0.3], output_type="latent")  # default for 2 steps: [1.0, 0.5]
    assert out.timings["steps"] == 2 and pipe.num_timesteps == 2
    assert not torch.allclose(out.images, call(pipe, num_inference_steps=2, output_type="latent").images)


def test_joint_attention_scale_scales_the_lora(tmp_path):
    p = make_tiny_pipeline(0)
    bare = call(p, output_type="latent").images
    p.load_lora_weights(sigma_lora(tmp_path / "l.safetensors", mask=False))
    full = call(p, output_type="latent").images
    off = call(p, output_type="latent", joint_attention_kwargs={"scale": 0.0}).images
    torch.testing.assert_close(off, bare, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(full, bare)
    torch.testing.assert_close(call(p, output_type="latent").images, full)  # the scale is undone afterwards
    with pytest.raises(SigmaError, match="not supported"):
        call(p, joint_attention_kwargs={"ip_adapter_image_embeds": 1})


def test_the_diffusers_progress_bar_counts_steps(pipe, capsys):
    pipe.set_progress_bar_config(disable=False)
    try:
        call(pipe, num_inference_steps=3, output_type="latent")
    finally:
        pipe.set_progress_bar_config(disable=True)
    assert "3/3" in capsys.readouterr().err


def test_built_from_kontext_components_and_from_pipe():
    kontext = FluxKontextPipeline(**make_tiny_components(0), image_encoder=None, feature_extractor=None)
    a = SigmaPipeline(**kontext.components)
    b = SigmaPipeline.from_pipe(kontext)
    assert isinstance(b, SigmaPipeline) and b.transformer is kontext.transformer
    np.testing.assert_allclose(call(a, output_type="np").images, call(b, output_type="np").images)


def test_a_saved_pipeline_loads_back_with_diffusers_own_loader(tmp_path, pipe):
    pipe.save_pretrained(tmp_path / "saved")
    loaded = DiffusionPipeline.from_pretrained(tmp_path / "saved", trust_remote_code=True)
    assert type(loaded) is SigmaPipeline
    again = SigmaPipeline.from_pretrained(tmp_path / "saved")  # no trust flag needed for our own folder
    ref = call(pipe, output_type="np").images
    np.testing.assert_allclose(call(loaded, output_type="np").images, ref, atol=1e-6)
    np.testing.assert_allclose(call(again, output_type="np").images, ref, atol=1e-6)


def test_loading_leaves_global_logging_and_warning_filters_alone(tmp_path):
    from diffusers.utils import logging as dlog

    from sigmascene.model.loading import load_pipeline

    pipe = make_tiny_pipeline(0)
    pipe.save_pretrained(tmp_path / "m")
    level, filters = dlog.get_verbosity(), list(warnings.filters)
    root = logging.getLogger().level
    load_pipeline(tmp_path / "m", sigma_lora(tmp_path / "l.safetensors", mask=True), device="cpu")
    assert dlog.get_verbosity() == level and warnings.filters == filters and logging.getLogger().level == root
