"""`sigmascene.render(..., output_type="latent")` returns the final packed latents before decoding, as diffusers
pipelines do: the same tensor the pipeline produces for that scene and seed, and the image is their decoding."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import sigmascene
from sigmascene.model.loading import load_pipeline
from sigmascene.scene.prompts import build_prompt
from sigmascene.testing.tiny_pipeline import save_tiny_pipeline, save_tiny_sigma_lora

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))
from test_model_pipeline import write_scene


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("latents")
    base = save_tiny_pipeline(root / "base")
    lora = save_tiny_sigma_lora(root / "sigma.safetensors", zero=False)  # a LoRA that changes the output
    return base, lora


def test_latents_equal_the_pipelines_own_for_the_image(model, env):
    base, lora = model
    scene = sigmascene.load(write_scene(env / "s"))
    kw = dict(base=base, loras=[lora], steps=2, device="cpu")
    res = sigmascene.render(scene, seed=4, output_type="latent", **kw)
    latents = res.images
    assert isinstance(latents, torch.Tensor) and latents.ndim == 3 and latents.shape[0] == 1
    assert res.sidecars[0]["method"] == "sigma" and res.plan.output_type == "latent"

    pipe = load_pipeline(base, [(lora, 1.0)], device="cpu")
    compiled = sigmascene.compile(scene)
    ref = pipe(prompt=build_prompt(scene, "auto"), control_image=compiled.control, identity_image=compiled.identity,
               height=48, width=64, num_inference_steps=2, guidance_scale=2.5,
               generator=torch.Generator("cpu").manual_seed(4), output_type="latent").images
    torch.testing.assert_close(latents, ref, rtol=1e-5, atol=1e-6)

    image = sigmascene.render(scene, seed=4, **kw).images[0]
    step = pipe.vae_scale_factor * 2
    with torch.no_grad():
        decoded = pipe.decode_latents(latents, (48 // step, 64 // step), "pil")[0]
    assert np.array_equal(np.asarray(image), np.asarray(decoded))


def test_several_seeds_stack_their_latents_like_a_diffusers_batch(model, env):
    base, lora = model
    scene = sigmascene.load(write_scene(env / "s"))
    kw = dict(base=base, loras=[(lora, 1.0)], steps=1, device="cpu", output_type="latent")
    both = sigmascene.render(scene, seed=[4, 5], **kw)
    assert both.images.shape[0] == 2 and [s["seed"] for s in both.sidecars] == [4, 5]
    torch.testing.assert_close(both.images[:1], sigmascene.render(scene, seed=4, **kw).images)


def test_python_options_are_checked_like_the_cli(model, env):
    base, lora = model
    scene = sigmascene.load(write_scene(env / "s"))
    with pytest.raises(sigmascene.SigmaError, match="did you mean 'batch'"):
        sigmascene.render(scene, base=base, loras=[lora], btach=2)
    with pytest.raises(sigmascene.SigmaError, match="output_type 'latent' is not available with the iterative"):
        sigmascene.render(scene, base=base, loras=[lora], method="iterative", output_type="latent")
