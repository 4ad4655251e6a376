"""The collage method end to end, as the issue's held-out check sees it: a tiny random Kontext folder, an opaque
and a transparent reference in overlapping boxes with declared depths, `render --base DIR` with no LoRA."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import sigmascene
from sigmascene.cli import app
from sigmascene.testing.tiny_pipeline import save_tiny_pipeline
from sigmascene.testing.tiny_stages import save_tiny_flux

runner = CliRunner()
RED, BLUE = (220, 30, 30), (30, 40, 220)
SCENE = '''sigma 1
canvas 96 x 64
seed 5
prompt "a wooden table"
compose "@cup stands in front of @box"

subject box {
    ref "refs/box.png"
    box2d (0.05, 0.10, 0.60, 0.90)
    depth 4
}

subject cup {
    ref "refs/cup.png"
    box2d (0.40, 0.25, 0.95, 0.95)
    depth 1.5
}
'''


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny random FluxKontextPipeline folder, saved by stock diffusers."""
    return save_tiny_flux(tmp_path_factory.mktemp("tiny") / "kontext", kontext=True)


@pytest.fixture(scope="module")
def sigma_base(tmp_path_factory):
    """The same weights saved by SigmaPipeline (`save_tiny_pipeline`)."""
    return save_tiny_pipeline(tmp_path_factory.mktemp("tiny") / "sigma")


def _write(folder, text=SCENE):
    (folder / "refs").mkdir(exist_ok=True)
    Image.new("RGB", (30, 40), RED).save(folder / "refs/box.png")  # opaque
    a = np.zeros((32, 32, 4), np.uint8)
    a[4:28, 6:26] = (*BLUE, 255)  # transparent around the cup
    Image.fromarray(a, "RGBA").save(folder / "refs/cup.png")
    (folder / "scene.sigma").write_text(text)
    return folder / "scene.sigma"


def _px(box, w=96, h=64):
    x0, y0, x1, y1 = box
    return round(x0 * w), round(y0 * h), round(x1 * w), round(y1 * h)


def _mostly(pixels, colour) -> bool:
    return bool((np.abs(np.median(pixels.astype(int), axis=0) - colour) <= 2).all())


def test_render_with_a_base_and_no_lora_is_collage_and_matches_stock_kontext(env, base):
    from diffusers import FluxKontextPipeline

    scene = _write(env)
    out = env / "out.png"
    res = runner.invoke(app, ["render", str(scene), "--base", str(base), "--steps", "2", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "collage" in res.output  # the default is said in one line
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["method"] == "collage" and side["files"]["layout"] == "out.layout.png"
    assert side["instruction"].startswith("Turn this collage into one natural photograph: cup stands in front")
    layout = np.asarray(Image.open(env / side["files"]["layout"]))
    assert layout.shape == (64, 96, 3) and Image.open(out).size == (96, 64)
    # each reference covers its own box; the nearer (cup) covers the overlap
    bx0, by0, bx1, by1 = _px((0.05, 0.10, 0.60, 0.90))
    cx0, cy0, cx1, cy1 = _px((0.40, 0.25, 0.95, 0.95))
    box_only = layout[by0:by1, bx0:cx0]
    assert _mostly(box_only.reshape(-1, 3), RED)
    cup = layout[cy0:cy1, cx0:cx1].reshape(-1, 3)
    assert _mostly(cup, BLUE)
    overlap = layout[cy0 + 8:by1 - 4, cx0 + 8:bx1 - 1].reshape(-1, 3)
    assert _mostly(overlap, BLUE)
    # the sidecar's instruction and layout file on stock diffusers give the same latents as sigmascene.render
    got = sigmascene.render(sigmascene.load(scene), base=str(base), steps=2, output_type="latent")
    assert got.sidecars[0]["method"] == "collage"
    call = dict(side["diffusers"]["call"])
    stock = FluxKontextPipeline.from_pretrained(str(base))
    stock.set_progress_bar_config(disable=True)
    want = stock(image=Image.open(env / side["files"]["layout"]), generator=torch.Generator("cpu").manual_seed(5),
                 output_type="latent", **call).images
    assert got.images.shape == want.shape
    assert float((got.images - want).norm() / want.norm()) < 1e-4


def test_a_batch_writes_one_layout_per_image_and_the_layout_is_made_once(env, sigma_base):
    scene = _write(env)
    out = env / "b.png"
    res = runner.invoke(app, ["render", str(scene), "--base", str(sigma_base), "--steps", "1", "--batch", "2", "-o",
                              str(out)])
    assert res.exit_code == 0, res.output
    assert (env / "b_5.layout.png").is_file() and (env / "b_6.layout.png").is_file()
    assert res.output.count("has no transparency and no matte") == 1
    sides = [json.loads((env / f"b_{s}.json").read_text()) for s in (5, 6)]
    assert [s["seed"] for s in sides] == [5, 6] and sides[0]["instruction"] == sides[1]["instruction"]


def test_insertion_with_collage_keeps_the_photo_outside_the_region(env, base):
    from sigmascene.model.insert import feather_alpha

    scene = _write(env, SCENE.replace("canvas 96 x 64\n", 'canvas 96 x 64\nbackground "photo.png"\n'))
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    Image.fromarray(photo).save(env / "photo.png")
    out = env / "ins.png"
    res = runner.invoke(app, ["render", str(scene), "--base", str(base), "--steps", "2", "--blend-margin", "2",
                              "--feather", "2", "-o", str(out)])
    assert res.exit_code == 0, res.output
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["method"] == "collage" and side["insertion"] is True
    layout = np.asarray(Image.open(env / "ins.layout.png"))
    compiled = sigmascene.compile(sigmascene.load(scene), blend_margin=2)
    assert (layout[~compiled.blend_region] == photo[~compiled.blend_region]).all()  # the photo is the background
    image = np.asarray(Image.open(out))
    keep = feather_alpha(compiled.blend_region, 2) == 0
    assert keep.any() and np.array_equal(image[keep], photo[keep])


def test_a_segmenter_flag_is_refused_for_sigma_and_checked_before_loading(env, base):
    scene = _write(env)
    res = runner.invoke(app, ["render", str(scene), "--base", str(base), "--segmenter", str(env / "nope")])
    assert res.exit_code == 1 and "--segmenter" in res.output and "no such folder" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["render", str(scene), "--detector", str(env)])
    assert res.exit_code == 1 and "--detector" in res.output and "Traceback" not in res.output


def test_a_matte_of_another_size_fails_the_render_with_one_located_error(env, base):
    scene = _write(env, SCENE.replace('ref "refs/box.png"', 'ref "refs/box.png"\n    matte "refs/cup.png"'))
    res = runner.invoke(app, ["render", str(scene), "--base", str(base), "--steps", "1", "-o", str(env / "m.png")])
    assert res.exit_code == 1, res.output
    assert "matte is 32x32 px but its reference is 30x40 px" in res.output and "scene.sigma:9" in res.output
    assert "Traceback" not in res.output and not (env / "m.png").exists()


def test_collage_runs_with_single_file_and_gguf_transformers_and_a_stacked_style_lora(env, base):
    """`--transformer` (single-file / GGUF) and extra LoRAs apply to collage: the stock Kontext call runs on the
    same loaded transformer."""
    import sys
    from pathlib import Path

    from safetensors.torch import load_file, save_file

    from sigmascene.testing.tiny_pipeline import make_tiny_components, save_tiny_sigma_lora

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))
    from test_model_single_file import write_gguf

    scene = sigmascene.load(_write(env))
    sd = make_tiny_components(0)["transformer"].state_dict()
    save_file({k: v.contiguous() for k, v in sd.items()}, str(env / "t.safetensors"))
    write_gguf(env / "t.gguf", sd)
    plain = sigmascene.render(scene, base=str(base), steps=2, output_type="latent").images
    single = sigmascene.render(scene, base=str(base), steps=2, output_type="latent",
                               transformer=str(env / "t.safetensors"))
    assert single.sidecars[0]["method"] == "collage" and single.sidecars[0]["model"]["transformer"]
    assert float((single.images - plain).norm() / plain.norm()) < 1e-5
    gguf = sigmascene.render(scene, base=str(base), steps=2, output_type="latent", transformer=str(env / "t.gguf"))
    assert torch.isfinite(gguf.images).all() and not torch.equal(gguf.images, plain)
    # a LoRA without SIGMA metadata (a style LoRA) stacks on collage and changes the picture
    lora = save_tiny_sigma_lora(env / "sigma.safetensors", zero=False)
    save_file(load_file(str(lora)), str(env / "style.safetensors"))  # the same tensors, no metadata
    styled = sigmascene.render(scene, base=str(base), steps=2, output_type="latent",
                               loras=[str(env / "style.safetensors")])
    assert styled.sidecars[0]["method"] == "collage" and len(styled.sidecars[0]["model"]["loras"]) == 1
    assert float((styled.images - plain).norm() / plain.norm()) > 1e-4


def test_collage_runs_with_fp8_weights(env, base):
    got = sigmascene.render(sigmascene.load(_write(env)), base=str(base), steps=1, dtype="fp8")
    side = got.sidecars[0]
    assert side["method"] == "collage" and side["fp8_storage"] is True and got.images[0].size == (96, 64)


def test_safe_mode_refuses_a_matte_outside_the_scene_folder(env, base, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "m.png"
    Image.new("L", (30, 40), 255).save(outside)
    scene = _write(env, SCENE.replace('ref "refs/box.png"', f'ref "refs/box.png"\n    matte "{outside}"'))
    res = runner.invoke(app, ["render", str(scene), "--base", str(base), "--safe", "-o", str(env / "s.png")])
    assert res.exit_code == 1 and "is outside the allowed folder" in res.output and "Traceback" not in res.output
