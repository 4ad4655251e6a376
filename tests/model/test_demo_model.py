"""The embedded demo model: its shipped weights load and render on CPU, fit the size budget, and ship in the wheel."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

import sigmascene
from sigmascene import Scene, box2d
from sigmascene.demo import DEMO_CANVAS, DEMO_STEPS, TRAIN_SEEDS, demo_available, demo_paths, load_demo_pipeline

ROOT = Path(__file__).resolve().parents[2]
REFS = ROOT / "examples" / "toy" / "refs"


@pytest.fixture(scope="module")
def pipe():
    import torch

    torch.set_num_threads(1)
    return load_demo_pipeline("cpu")


def two_subjects() -> Scene:
    scene = Scene(canvas=DEMO_CANVAS, prompt="a room with a wooden floor and pale blue walls", seed=1)
    scene.add_subject("house", REFS / "house.png", box2d(0.05, 0.35, 0.5, 0.85), depth=2.0)
    scene.add_subject("box", REFS / "box.png", box2d(0.4, 0.4, 0.95, 0.9), depth=1.5)
    return scene


def test_contract_constants_describe_the_shipped_model():
    assert demo_available()
    base, lora = demo_paths()
    assert (base / "model_index.json").is_file() and lora.suffix == ".safetensors"
    assert DEMO_CANVAS[0] % 16 == 0 and DEMO_CANVAS[1] % 16 == 0 and DEMO_STEPS >= 1 and len(TRAIN_SEEDS) > 0


def test_shipped_weights_render_a_two_subject_scene_on_cpu(pipe):
    assert pipe.lora_info is not None and pipe.lora_info.sigma  # the SIGMA LoRA is applied, not just the base
    compiled = sigmascene.compile(two_subjects())
    out = pipe.render(compiled, num_inference_steps=4)
    img = np.asarray(out.images[0])
    assert img.shape == (DEMO_CANVAS[1], DEMO_CANVAS[0], 3)
    assert img.std() > 5  # a picture, not a flat or empty frame
    again = np.asarray(pipe.render(compiled, num_inference_steps=4).images[0])
    assert np.array_equal(img, again)  # the scene's seed makes the render reproducible


def test_the_lora_changes_what_the_base_renders(pipe):
    """The LoRA is trained and loaded: with its scale at zero the same seed gives a different picture."""
    compiled = sigmascene.compile(two_subjects())
    with_lora = np.asarray(pipe.render(compiled, num_inference_steps=4).images[0]).astype(float)
    pipe.transformer.set_adapters(["sigma"], weights=[0.0])
    try:
        without = np.asarray(pipe.render(compiled, num_inference_steps=4).images[0]).astype(float)
    finally:
        pipe.transformer.set_adapters(["sigma"], weights=[1.0])
    assert np.abs(with_lora - without).mean() > 1.0


def test_shipped_files_fit_in_30_mb():
    base, lora = demo_paths()
    total = sum(p.stat().st_size for p in base.rglob("*") if p.is_file()) + lora.stat().st_size
    assert total <= 30 * 1024 * 1024, f"{total / 2**20:.1f} MiB"


def test_weights_are_tracked_and_declared_as_package_data():
    base, lora = demo_paths()
    files = [lora, *base.rglob("*.safetensors")]
    ignored = subprocess.run(["git", "check-ignore", *map(str, files)], cwd=ROOT, capture_output=True, text=True)
    assert ignored.stdout.strip() == "", f"git ignores shipped weights: {ignored.stdout}"
    text = (ROOT / "pyproject.toml").read_text()
    assert '"demo/weights/**/*"' in text
