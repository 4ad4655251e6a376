"""Code written for FluxKontextPipeline runs against SigmaPipeline unchanged, and does the same thing.

`user_code` is what a diffusers user writes around a Kontext pipeline — two LoRAs with names and weights, listing
them, fusing, disabling, deleting, unloading, a step callback that edits the latents and interrupts, a LoRA scale
through `joint_attention_kwargs`, the progress-bar config, `components`. It runs once on stock FluxKontextPipeline
and once on SigmaPipeline (same tiny weights); only the call's image inputs differ, since SIGMA takes a control
map and an identity dictionary where Kontext takes one image. Every transformer state it passes through is
compared between the two.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import FluxKontextPipeline

from sigmascene.model.pipeline import SigmaPipeline
from sigmascene.testing.tiny_pipeline import make_tiny_components

from test_model_adapters import sigma_lora
from test_model_lora_formats import peft_file, transformer_out

SIZE = 32


def user_code(pipe, render, lora_a, lora_b):
    """Returns [(what, value)] for every observable step; `render(pipe, **kwargs)` is the pipeline's call."""
    seen = []
    pipe.set_progress_bar_config(disable=True)
    pipe.load_lora_weights(str(lora_a), adapter_name="sigma")
    pipe.load_lora_weights(str(lora_b.parent), weight_name=lora_b.name, adapter_name="style")
    pipe.set_adapters(["sigma", "style"], adapter_weights=[1.0, 0.6])
    seen += [("active", sorted(pipe.get_active_adapters())),
             ("listed", {k: sorted(v) for k, v in pipe.get_list_adapters().items()}),
             ("both", transformer_out(pipe.transformer))]

    steps = []

    def on_step_end(p, i, t, callback_kwargs):
        steps.append(i)
        if i == 1:
            p._interrupt = True
        return {"latents": callback_kwargs["latents"] * 0.5}

    out = render(pipe, num_inference_steps=4, generator=torch.Generator().manual_seed(0), output_type="latent",
                 callback_on_step_end=on_step_end, callback_on_step_end_tensor_inputs=["latents"],
                 joint_attention_kwargs={"scale": 0.5})
    seen += [("steps", steps), ("latents finite", bool(torch.isfinite(out.images).all()))]

    pipe.fuse_lora(lora_scale=0.8, adapter_names=["sigma"])
    seen.append(("fused", transformer_out(pipe.transformer)))
    pipe.unfuse_lora()
    pipe.disable_lora()
    seen.append(("disabled", transformer_out(pipe.transformer)))
    pipe.enable_lora()
    pipe.delete_adapters("style")
    seen += [("after delete", sorted(pipe.get_active_adapters())), ("sigma only", transformer_out(pipe.transformer))]
    pipe.unload_lora_weights()
    seen += [("unloaded", transformer_out(pipe.transformer)),
             ("components", sorted(k for k, v in pipe.components.items() if v is not None))]
    return seen


def render_kontext(pipe, **kwargs):
    image = np.full((SIZE, SIZE, 3), 128, np.uint8)
    from PIL import Image

    return pipe(image=Image.fromarray(image), prompt="a red chair", height=SIZE, width=SIZE, max_area=SIZE * SIZE,
                _auto_resize=False, max_sequence_length=32, **kwargs)


def render_sigma(pipe, **kwargs):
    control = np.zeros((SIZE, SIZE, 3), np.uint8)
    control[8:24, 8:24] = (200, 120, 40)
    identity = np.full((SIZE, SIZE, 3), 90, np.uint8)
    return pipe(prompt="a red chair", control_image=control, identity_image=identity, height=SIZE, width=SIZE,
                max_sequence_length=32, **kwargs)


@pytest.fixture(scope="module")
def loras(tmp_path_factory):
    d = tmp_path_factory.mktemp("user")
    return sigma_lora(d / "sigma.safetensors", mask=True), peft_file(d, "style.safetensors")


def test_code_written_for_flux_kontext_runs_unchanged_and_alike(loras):
    stock = user_code(FluxKontextPipeline(**make_tiny_components(0), image_encoder=None, feature_extractor=None),
                      render_kontext, *loras)
    ours = user_code(SigmaPipeline(**make_tiny_components(0)), render_sigma, *loras)
    assert [what for what, _ in ours] == [what for what, _ in stock]
    for (what, a), (_, b) in zip(ours, stock):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=f"transformer differs at {what!r}")
        elif what == "components":
            assert set(b) <= set(a) | {"image_encoder", "feature_extractor"}, what
        else:
            assert a == b, what
    values = dict(ours)
    assert values["steps"] == [0, 1]  # the callback's interrupt stopped both after two steps
    assert values["active"] == ["sigma", "style"]
    assert not torch.allclose(values["both"], values["unloaded"])  # the LoRAs did something, and went away
