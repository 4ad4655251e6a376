"""model/collage.py: the collage method is stock diffusers' FluxKontextPipeline on the same components."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sigmascene.model.seeds import seed_generator
from sigmascene.model.collage import kontext_pipeline, render_collage, stock_call_kwargs
from sigmascene.testing.tiny_pipeline import make_tiny_components, make_tiny_pipeline

INSTRUCTION = "Turn this collage into one natural photograph: a red cube and a blue ball in a room."


def _layout(h=48, w=64) -> Image.Image:
    rng = np.random.default_rng(3)
    arr = np.full((h, w, 3), 128, np.uint8)
    arr[8:30, 6:30] = (200, 30, 30)
    arr[20:44, 24:58] = rng.integers(0, 255, (24, 34, 3), dtype=np.uint8)
    return Image.fromarray(arr, "RGB")


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_collage_latents_equal_stock_flux_kontext_on_the_same_layout_and_instruction():
    from diffusers import FluxKontextPipeline

    layout = _layout()
    ours = render_collage(make_tiny_pipeline(0), layout, INSTRUCTION, generator=seed_generator(7),
                          num_inference_steps=3, guidance_scale=2.5, output_type="latent").images
    stock = FluxKontextPipeline(**make_tiny_components(0))
    stock.set_progress_bar_config(disable=True)
    want = stock(image=layout, prompt=INSTRUCTION, height=48, width=64, num_inference_steps=3, guidance_scale=2.5,
                 generator=torch.Generator("cpu").manual_seed(7), output_type="latent", max_area=48 * 64,
                 _auto_resize=False).images
    assert ours.shape == want.shape == (1, 3 * 4, 16)
    assert _rel(ours, want) < 1e-4


def test_the_recorded_call_is_the_canvas_size_with_stock_resizing_off():
    kw = stock_call_kwargs("x", 48, 64, 28, 2.5)
    assert kw == {"prompt": "x", "height": 48, "width": 64, "num_inference_steps": 28, "guidance_scale": 2.5,
                  "max_area": 48 * 64, "_auto_resize": False}


def test_the_kontext_pipeline_shares_the_loaded_components():
    pipe = make_tiny_pipeline(0)
    kontext = kontext_pipeline(pipe)
    assert kontext.transformer is pipe.transformer and kontext.vae is pipe.vae
    assert type(kontext).__name__ == "FluxKontextPipeline"


def test_insertion_keeps_the_photo_exact_outside_the_blend_region():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    region = np.zeros((48, 64), bool)
    region[16:32, 16:40] = True
    seen = []
    out = render_collage(make_tiny_pipeline(0), _layout(), INSTRUCTION, generator=seed_generator(1),
                         num_inference_steps=2, photo=photo, region=region, feather=2,
                         callback=lambda i, n: seen.append((i, n)))
    img = np.asarray(out.images[0])
    assert img.shape == photo.shape
    far = np.ones_like(region)
    far[13:35, 13:43] = False  # the region grown by more than the feather
    assert (img[far] == photo[far]).all()
    assert (img[region] != photo[region]).any()
    assert seen == [(1, 2), (2, 2)]


def test_insertion_needs_both_photo_and_region():
    from sigmascene.errors import SigmaError

    with pytest.raises(SigmaError, match="both the photo and its blend region"):
        render_collage(make_tiny_pipeline(0), _layout(), "x", generator=seed_generator(0),
                       photo=np.zeros((48, 64, 3), np.uint8))
