"""`eval run --method contextgen`: a set rendered with ContextGen's adapter (tiny random base and adapter in its
format), each case's sidecar saying the method and its own default guidance."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

import sigmascene
from sigmascene import Scene, box2d
from sigmascene.cli import app
from sigmascene.eval.evalset import Case, EvalSet


def test_eval_run_renders_a_set_with_the_contextgen_method(tmp_path):
    from diffusers import FluxKontextPipeline

    from sigmascene.testing.tiny_contextgen import make_tiny_contextgen_components, save_contextgen_adapter

    comps = make_tiny_contextgen_components(0)
    FluxKontextPipeline(**comps).save_pretrained(tmp_path / "base")
    adapter = save_contextgen_adapter(comps["transformer"], tmp_path / "adapter", rank=4)
    root = tmp_path / "set"
    folder = root / "cases" / "a"
    folder.mkdir(parents=True)
    rgba = np.random.default_rng(0).integers(0, 255, (24, 24, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[:4, :, 3] = 0
    Image.fromarray(rgba, "RGBA").save(folder / "cat.png")
    scene = Scene(canvas=(64, 48), prompt="a quiet room", seed=3)
    scene.add_subject("cat", "cat.png", box2d(0.05, 0.2, 0.45, 0.9), depth=2.0)
    (folder / "scene.sigma").write_text(sigmascene.dumps(scene), encoding="utf-8")
    EvalSet(name="cg", cases=[Case(id="a", scene="cases/a/scene.sigma")]).save(root)

    res = CliRunner().invoke(app, ["eval", "run", str(root), "--model", str(tmp_path / "base"), "--lora", str(adapter),
                                   "--method", "contextgen", "--steps", "1", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    folder = EvalSet.load(root).render_dir(f"{adapter.stem}-contextgen")
    side = json.loads((folder / "a.json").read_text())
    assert (folder / "a.png").is_file() and side["method"] == "contextgen" and side["guidance"] == 3.5
    assert side["contextgen"]["references"][0]["subject"] == "cat"
