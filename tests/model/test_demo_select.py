"""`sigmascene render` without a base: the demo model is chosen and said so; far references and other canvases warn."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.demo import DEMO_CANVAS, demo_available
from sigmascene.demo.select import FAR_THRESHOLD, white_border_fraction
from sigmascene.testing.tiny_pipeline import save_tiny_pipeline, save_tiny_sigma_lora

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
needs_demo = pytest.mark.skipif(not demo_available(), reason="demo weights not built (test_demo_model fails then)")


@pytest.fixture
def env(env, monkeypatch):  # conftest's model-free folder, on one thread
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return env


def render(*args):
    res = runner.invoke(app, ["render", *map(str, args)])
    assert "Traceback" not in res.output, res.output
    return res


def toy_scene(folder: Path, ref_image: np.ndarray | None = None, canvas: int = DEMO_CANVAS[0]) -> Path:
    """A 2-subject scene on the shipped toy references; `ref_image` replaces the second reference."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "examples/toy/refs/house.png", folder / "house.png")
    if ref_image is None:
        shutil.copy(ROOT / "examples/toy/refs/box.png", folder / "other.png")
    else:
        Image.fromarray(ref_image).save(folder / "other.png")
    (folder / "s.sigma").write_text(
        f'sigma 1\ncanvas {canvas} x {canvas}\nseed 2\nprompt "a room with a wooden floor"\n'
        'subject house { ref "house.png" box2d (0.05, 0.3, 0.5, 0.9) depth 2 }\n'
        'subject other { ref "other.png" box2d (0.45, 0.35, 0.95, 0.9) depth 1.5 }\n')
    return folder / "s.sigma"


def photo_like(seed: int = 0) -> np.ndarray:
    """A picture filling its frame (no white ground), like a photo of a real object."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:96]
    img = np.stack([80 + 60 * np.sin(xx / 9), 110 + 40 * np.cos(yy / 7), 70 + 0 * xx], axis=2)
    return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)


def test_white_border_fraction_separates_synthetic_identities_from_photos():
    for ref in (ROOT / "examples/toy/refs").glob("*.png"):
        assert white_border_fraction(np.asarray(Image.open(ref).convert("RGB"))) >= FAR_THRESHOLD
    assert white_border_fraction(photo_like()) < 0.1
    white = np.full((40, 40, 3), 255, np.uint8)
    white[10:30, 10:30] = 0  # an object centred on white, like the generator's identity images
    assert white_border_fraction(white) == 1.0


@needs_demo
def test_no_base_renders_with_the_demo_model_and_says_so(env):
    scene = toy_scene(env / "s")
    out = env / "toy.png"
    res = render(scene, "-o", out, "--steps", "3")
    assert res.exit_code == 0, res.output
    assert "embedded demo model" in res.output
    assert "only knows the synthetic world" not in res.output and "trained at" not in res.output
    assert Image.open(out).size == DEMO_CANVAS
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["model"]["base_source"] == "demo" and side["model"]["lora_source"] == "demo"
    assert side["model"]["loras"][0]["metadata"]["sigma"] and side["steps"] == 3
    assert "--base" not in side["command"] and "--lora" not in side["command"]  # no flag means the demo


@needs_demo
def test_a_reference_far_from_the_toy_world_still_renders_with_one_warning(env):
    scene = toy_scene(env / "s", ref_image=photo_like())
    res = render(scene, "-o", env / "far.png", "--steps", "2")
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if "only knows the synthetic world" in ln]
    assert len(lines) == 1 and "other" in lines[0] and "house" not in lines[0].split("fraction")[-1]
    assert (env / "far.png").is_file()


@needs_demo
def test_another_canvas_renders_at_the_demo_canvas_with_one_note(env):
    scene = toy_scene(env / "s", canvas=DEMO_CANVAS[0] * 2)
    res = render(scene, "-o", env / "big.png", "--steps", "1")
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if "renders at its own canvas" in ln]
    assert len(lines) == 1 and "layout scaled, aspect kept" in res.output
    assert Image.open(env / "big.png").size == DEMO_CANVAS
    side = json.loads((env / "big.json").read_text())
    assert side["size"] == list(DEMO_CANVAS)


@needs_demo
def test_a_1024_scene_renders_at_the_demo_canvas_keeping_its_aspect(env):
    """A 1024 x 768 canvas through the 64 px demo model: 64 x 48, the layout scaled, in seconds."""
    text = toy_scene(env / "s").read_text().replace(f"canvas {DEMO_CANVAS[0]} x {DEMO_CANVAS[0]}",
                                                     "canvas 1024 x 768")
    (env / "s" / "wide.sigma").write_text(text)
    res = render(env / "s" / "wide.sigma", "-o", env / "wide.png", "--steps", "2")
    assert res.exit_code == 0, res.output
    assert Image.open(env / "wide.png").size == (64, 48)
    assert "64x48 px instead of 1024x768" in res.output


def test_a_given_base_is_used_as_before_without_the_demo(env):
    base = save_tiny_pipeline(env / "tiny")
    scene = toy_scene(env / "s")
    lora = save_tiny_sigma_lora(env / "sigma.safetensors")
    res = render(scene, "--base", base, "--lora", lora, "-o", env / "t.png", "--steps", "1")
    assert res.exit_code == 0, res.output
    assert "demo model" not in res.output
    side = json.loads((env / "t.json").read_text())
    assert side["model"]["base_source"] == "flag" and f"--base {base}" in side["command"] and side["steps"] == 1


def test_base_from_the_environment_also_skips_the_demo(env, monkeypatch):
    base = save_tiny_pipeline(env / "tiny")
    monkeypatch.setenv("SIGMASCENE_BASE", str(base))
    monkeypatch.setenv("SIGMASCENE_LORA", str(save_tiny_sigma_lora(env / "sigma.safetensors")))
    res = render(toy_scene(env / "s"), "-o", env / "e.png", "--steps", "1")
    assert res.exit_code == 0, res.output
    assert "demo model" not in res.output


def test_a_lora_without_a_base_is_a_clean_error(env):
    res = render(toy_scene(env / "s"), "--lora", env / "x.safetensors", "-o", env / "l.png")
    assert res.exit_code == 1
    assert "no base model" in res.output and "drop --lora" in res.output


@needs_demo
@pytest.mark.slow
def test_the_readme_example_renders_with_no_model_configured_at_the_demo_canvas(env):
    """`sigmascene render examples/living_room.sigma` with nothing configured: a 1024² scene, the demo canvas."""
    import time

    t0 = time.perf_counter()
    res = render(ROOT / "examples" / "living_room.sigma", "-o", env / "room.png")
    seconds = time.perf_counter() - t0
    assert res.exit_code == 0, res.output
    assert Image.open(env / "room.png").size == DEMO_CANVAS
    side = json.loads((env / "room.json").read_text())
    assert side["model"]["base_source"] == "demo" and side["steps"] == 20
    assert seconds < 120  # about 10 s on an idle 2-core machine; generous for a shared CI runner
