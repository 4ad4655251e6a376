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
from sigmascene.model.attention import condition_attention_mask
from sigmascene.model.layout import make_layout
from sigmascene.model.pipeline import SigmaPipeline
from sigmascene.testing.tiny_pipeline import make_tiny_components, make_tiny_pipeline

from test_model_adapters import sigma_lora
from test_model_pipeline import call, maps


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
    with pytest.raises(SigmaError, match="has no IP-Adapter"):
        call(p, joint_attention_kwargs={"ip_adapter_image_embeds": 1})


def sequence(pipe):
    """The token layout of `call`'s canvas and identity dictionary: the sequence an attention_mask covers."""
    ctrl, ident = maps()
    return make_layout(pipe.tokenizer_2.model_max_length, ctrl.shape[:2], ident.shape[:2], pipe.vae_scale_factor)


@pytest.mark.parametrize("condition_mask", [False, True])
def test_an_all_true_attention_mask_renders_as_no_mask(pipe, condition_mask):
    s = sequence(pipe).total
    everything = torch.ones(s, s, dtype=torch.bool)
    plain = call(pipe, output_type="latent", condition_mask=condition_mask).images
    masked = call(pipe, output_type="latent", condition_mask=condition_mask,
                  joint_attention_kwargs={"attention_mask": everything}).images
    torch.testing.assert_close(masked, plain, rtol=1e-5, atol=1e-5)


def test_an_attention_mask_that_hides_the_conditions_from_x_changes_the_render(pipe):
    layout = sequence(pipe)
    spans = layout.slices()
    blind = torch.ones(layout.total, layout.total, dtype=torch.bool)
    blind[spans["x"], spans["identity"].start:] = False  # X rows may not read I_S or I_C
    additive = torch.zeros(layout.total, layout.total).masked_fill(~blind, float("-inf"))
    plain = call(pipe, output_type="latent").images
    hidden = call(pipe, output_type="latent", joint_attention_kwargs={"attention_mask": blind}).images
    assert not torch.allclose(hidden, plain, atol=1e-4)
    torch.testing.assert_close(call(pipe, output_type="latent",
                                    joint_attention_kwargs={"attention_mask": additive}).images,
                               hidden, rtol=1e-5, atol=1e-5)


def test_with_the_condition_mask_on_a_user_mask_is_anded_with_it(pipe):
    layout = sequence(pipe)
    m = (torch.rand(layout.total, layout.total, generator=torch.Generator().manual_seed(3)) > 0.3)
    m |= torch.eye(layout.total, dtype=torch.bool)
    on = call(pipe, output_type="latent", condition_mask=True, joint_attention_kwargs={"attention_mask": m}).images
    off = call(pipe, output_type="latent", condition_mask=False,
               joint_attention_kwargs={"attention_mask": condition_attention_mask(layout) & m}).images
    torch.testing.assert_close(on, off, rtol=1e-5, atol=1e-5)


def test_an_attention_mask_of_the_wrong_size_is_refused_before_any_step(pipe):
    layout = sequence(pipe)
    s = layout.total
    steps = []
    expected = (rf"S = {s} = P {layout.n_txt} \+ X {layout.n_x} \+ I_S {layout.n_s} \+ I_C {layout.n_c} tokens")
    with pytest.raises(SigmaError, match=expected):
        call(pipe, joint_attention_kwargs={"attention_mask": torch.ones(s, s - 4, dtype=torch.bool)},
             callback=lambda i, n: steps.append(i))
    assert steps == []


def test_an_attention_mask_is_refused_with_the_condition_cache(pipe):
    s = sequence(pipe).total
    with pytest.raises(SigmaError, match="cannot be used with cache_conditions") as err:
        call(pipe, condition_mask=True, cache_conditions=True,
             joint_attention_kwargs={"attention_mask": torch.ones(s, s, dtype=torch.bool)})
    assert "render without cache_conditions" in str(err.value)


def test_unknown_joint_attention_kwargs_warn_at_the_callers_line_and_are_ignored(pipe):
    ctrl, ident = maps()
    kwargs = {"temperature": 0.5, "scale": 1.0}

    def render(**kw):
        return pipe(prompt="Place these subjects in a room", control_image=ctrl, identity_image=ident,
                    num_inference_steps=2, output_type="latent", generator=torch.Generator().manual_seed(1), **kw)

    with pytest.warns(UserWarning, match=r"\['temperature'\] are not expected .* will be ignored") as rec:
        warned = render(joint_attention_kwargs=kwargs).images
    assert [w.filename for w in rec if "temperature" in str(w.message)] == [__file__]
    assert kwargs == {"temperature": 0.5, "scale": 1.0}  # the caller's dict is left as it was
    torch.testing.assert_close(warned, render().images)


@pytest.mark.parametrize("key", ["ip_adapter_image_embeds", "ip_hidden_states", "ip_adapter_masks"])
def test_ip_adapter_inputs_are_refused_not_dropped(pipe, key):
    with pytest.raises(SigmaError, match="no IP-Adapter: a subject's identity comes from its reference image in I_S"):
        call(pipe, joint_attention_kwargs={key: torch.zeros(1, 4)})


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
