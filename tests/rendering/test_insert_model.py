"""Insertion on the tiny model: the blended-latent step, and every pixel outside the blend region (plus the
feather) equal to the photo byte for byte, single pass and iterative."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import sigmascene
from sigmascene.model.insert import feather_alpha, paste_back
from sigmascene.model.iterative import BlendCallback, initial_noise, token_mask
from sigmascene.model.layout import encode_image_latents, pack_latents, prepare_condition_image
from sigmascene.testing.tiny_pipeline import make_tiny_pipeline

SCENE = '''sigma 1
background "photo.png"
seed 2
prompt "a room"
subject cat { ref "cat.png" box2d (0.1, 0.1, 0.4, 0.5) depth 2 }
subject box { ref "box.png" box2d (0.55, 0.5, 0.9, 0.9) depth 1 }
'''


def write_room(folder):
    rng = np.random.RandomState(0)
    Image.fromarray((rng.rand(48, 64, 3) * 255).astype(np.uint8)).save(folder / "photo.png")
    Image.fromarray(np.full((24, 24, 3), (120, 120, 130), np.uint8)).save(folder / "cat.png")
    Image.fromarray(np.full((24, 24, 3), (30, 160, 40), np.uint8)).save(folder / "box.png")
    (folder / "room.sigma").write_text(SCENE)
    return folder / "room.sigma"


@pytest.fixture(scope="module")
def pipe():
    return make_tiny_pipeline(0)


def outside(compiled, feather):
    return feather_alpha(compiled.blend_region, feather) == 0


@pytest.mark.parametrize("mode", ["render", "render_iterative"])
def test_pixels_outside_the_blend_region_and_feather_are_the_photos_bytes(pipe, tmp_path, mode):
    compiled = sigmascene.compile(sigmascene.load(write_room(tmp_path)), blend_margin=4)
    out = getattr(pipe, mode)(compiled, num_inference_steps=2, feather=3)
    image = np.asarray(out.images[0])
    photo = np.asarray(Image.open(tmp_path / "photo.png"))
    keep = outside(compiled, 3)
    assert keep.any() and (~keep).any()
    assert np.array_equal(image[keep], photo[keep])
    assert not np.array_equal(image[compiled.blend_region], photo[compiled.blend_region])  # subjects were drawn


def test_blended_latent_step_sets_outside_tokens_to_the_photo_noised_to_the_next_level(pipe, tmp_path):
    compiled = sigmascene.compile(sigmascene.load(write_room(tmp_path)), blend_margin=0)
    canvas = (48, 64)
    noise = initial_noise(pipe, canvas, torch.Generator("cpu").manual_seed(1))
    region = np.zeros(canvas, bool)
    region[:8, :8] = True  # one token, grown by one token for the seam
    blend = BlendCallback(pipe, compiled.background, region, noise, canvas)
    pipe.scheduler.set_timesteps(sigmas=np.linspace(1.0, 0.25, 4), device="cpu", mu=0.5)
    latents = torch.randn_like(noise)
    i = 1
    s = pipe.scheduler.sigmas[i + 1]
    new = blend(pipe, i, None, {"latents": latents})["latents"]
    x0 = pack_latents(encode_image_latents(pipe.vae, prepare_condition_image(compiled.background, canvas)))
    keep = token_mask(region, (3, 4)) == 0
    assert keep.any() and (~keep).any()
    torch.testing.assert_close(new[0, keep], ((1 - s) * x0 + s * noise)[0, keep])  # x_t = (1-σ)x0 + σε
    torch.testing.assert_close(new[0, ~keep], latents[0, ~keep])  # inside: the model's own step


def test_feather_falls_linearly_outside_the_region_and_paste_back_keeps_the_photo():
    region = np.zeros((9, 9), bool)
    region[4, 4] = True
    a = feather_alpha(region, 2)
    assert a[4, 4] == 1 and a[3, 3] == pytest.approx(2 / 3) and a[2, 4] == pytest.approx(1 / 3) and a[1, 4] == 0
    photo = np.full((9, 9, 3), 7, np.uint8)
    out = paste_back(np.full((9, 9, 3), 250, np.uint8), photo, region, 2)
    assert out[4, 4, 0] == 250 and out[0, 0, 0] == 7 and 7 < out[3, 3, 0] < 250


@pytest.mark.slow
def test_demo_model_renders_the_example_into_its_photo_and_records_the_blend(tmp_path):
    from sigmascene.rendering.render import RenderOptions, render_scene, save_render

    root = Path(__file__).resolve().parents[2] / "examples"
    scene = sigmascene.load(root / "insert_room.sigma")
    options = RenderOptions(steps=3, blend_margin=2, feather=2)
    result = render_scene(scene, options)
    image = np.asarray(result.images[0])
    photo = np.asarray(Image.open(root / "toy" / "room_photo.png").convert("RGB"))
    keep = outside(result.compiled, 2)
    assert keep.mean() > 0.3 and np.array_equal(image[keep], photo[keep])
    side = result.sidecars[0]["background"]
    assert side == {"path": "toy/room_photo.png", "depth": "toy/room_depth.png", "blend_margin_px": 2,
                    "feather_px": 2, "blend_pixels": int(result.compiled.blend_region.sum())}
    assert "--blend-margin 2 --feather 2" in result.sidecars[0]["command"]
    assert save_render(result, tmp_path / "out.png")[0].is_file()


def test_iterative_insertion_leaves_what_the_photo_hides_to_the_photo(pipe, tmp_path):
    scene = write_room(tmp_path)
    depth = np.full((48, 64), 9.0, np.float32)
    depth[:, :16] = 0.5  # a pillar 0.5 m away over the cat's left part (the cat is at 2 m)
    np.save(tmp_path / "depth.npy", depth)
    scene.write_text(SCENE.replace('seed 2', 'background_depth "depth.npy"\nseed 2'))
    compiled = sigmascene.compile(sigmascene.load(scene), blend_margin=1)
    assert not compiled.blend_region[:, :14].any()  # hidden by the pillar: not repainted
    image = np.asarray(pipe.render_iterative(compiled, num_inference_steps=2, feather=1).images[0])
    photo = np.asarray(Image.open(tmp_path / "photo.png"))
    assert np.array_equal(image[:, :13], photo[:, :13])
