"""`sigmascene.rendering.render`: the one library render call behind `render`, `eval run`, toy-world and the editor."""

from __future__ import annotations

import json
import threading

import pytest
from PIL import Image
from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.errors import SigmaError
from sigmascene.eval.evalset import Case, EvalSet
from sigmascene.eval.runner import RunOptions, run_set
from sigmascene.grammar import load
from sigmascene.testing.tiny_pipeline import save_tiny_sigma_lora
from sigmascene.rendering.render import (RenderCancelled, RenderOptions, load_model, model_identity, parse_lora,
                                         render_scene, save_render)

from test_model_pipeline import write_scene



@pytest.fixture(scope="module")
def lora(tmp_path_factory):
    """A SIGMA LoRA for the tiny base (B = 0: renders equal the bare base's), so the tiny base renders `sigma`."""
    return save_tiny_sigma_lora(tmp_path_factory.mktemp("loras") / "tiny_sigma.safetensors")


def test_render_and_eval_run_write_the_same_sidecar_fields(env, base, lora):
    scene_file = write_scene(env / "s")
    res = CliRunner().invoke(app, ["render", str(scene_file), "--base", str(base), "--lora", str(lora), "-o",
                                   str(env / "r.png"), "--steps", "1"])
    assert res.exit_code == 0, res.output
    cli_side = json.loads((env / "r.json").read_text())

    root = env / "set"
    (root / "cases").mkdir(parents=True)
    EvalSet(name="t", cases=[Case(id="a", scene=str(scene_file.resolve()))]).save(root)
    evalset = EvalSet.load(root)
    loaded = load_model(RenderOptions(base=str(base), loras=[str(lora)], device="cpu"))
    summary = run_set(loaded, evalset, RunOptions("m", steps=1, model=loaded.identity))
    assert summary.rendered == ["a"], summary.failed
    eval_side = json.loads((evalset.render_dir("m") / "a.json").read_text())
    assert set(eval_side) - {"case", "row", "setting", "seconds"} == set(cli_side)
    assert eval_side["model"]["base_config_sha256"] == cli_side["model"]["base_config_sha256"]
    assert eval_side["scene"]["maps_hash"] == cli_side["scene"]["maps_hash"]


def test_render_scene_reports_progress_and_saves_image_with_sidecar(env, base, lora):
    scene = load(write_scene(env / "s"))
    steps = []
    result = render_scene(scene, RenderOptions(base=str(base), loras=[str(lora)], steps=2, batch=2, device="cpu"),
                          progress=lambda i, n: steps.append((i, n)))
    assert steps == [(1, 2), (2, 2), (1, 2), (2, 2)]
    assert [s["seed"] for s in result.sidecars] == [3, 4] and len(result.images) == 2
    paths = save_render(result, env / "out" / "x.png")
    assert [p.name for p in paths] == ["x_3.png", "x_4.png"]
    side = json.loads((env / "out" / "x_4.json").read_text())
    assert side["image"] == "x_4.png" and "-o" in side["command"] and Image.open(paths[1]).size == (64, 48)


def test_a_set_cancel_event_stops_with_render_cancelled(env, base, lora):
    scene = load(write_scene(env / "s"))
    cancel = threading.Event()

    def progress(i, n):
        cancel.set()

    with pytest.raises(RenderCancelled):
        render_scene(scene, RenderOptions(base=str(base), loras=[str(lora)], steps=5, device="cpu"),
                     progress=progress, cancel=cancel)
    assert isinstance(RenderCancelled("x"), SigmaError)


def test_lora_specs_take_an_optional_weight(tmp_path):
    assert parse_lora("a/b.safetensors") == (tmp_path.__class__("a/b.safetensors"), 1.0)
    assert parse_lora("style.safetensors:0.8")[1] == 0.8
    assert parse_lora("C:/x/style.safetensors")[1] == 1.0
    for bad in ("nan", "inf", "-inf"):  # a number, but one that turns every pixel to NaN
        with pytest.raises(SigmaError, match="the weight must be a finite number"):
            parse_lora(f"style.safetensors:{bad}")


def test_a_lora_weight_that_is_not_a_number_is_named_as_such(env):
    lora = env / "style.safetensors"
    lora.write_bytes(b"x")
    (env / "model_index.json").write_text("{}")  # the check comes before anything is loaded
    scene = load(write_scene(env / "s"))
    with pytest.raises(SigmaError, match="the weight after ':' must be a number, got 'abc'") as err:
        render_scene(scene, RenderOptions(base=str(env), loras=[f"{lora}:abc"]))
    assert f"--lora {lora}:0.8" in str(err.value)
    with pytest.raises(SigmaError, match="is a folder; pass the LoRA file in it") as err:
        render_scene(scene, RenderOptions(base=str(env), loras=[str(env)]))
    assert "style.safetensors" in str(err.value)
    with pytest.raises(SigmaError, match="--transformer .* is a folder; pass the single transformer file"):
        render_scene(scene, RenderOptions(base=str(env), transformer=str(env)))


def test_a_config_file_that_is_a_folder_is_an_error_not_ignored(env):
    from sigmascene.model.config import config_file, read_config

    config_file().mkdir(parents=True)
    with pytest.raises(SigmaError, match="is a folder, not the sigmascene config file"):
        read_config()


def test_bad_options_are_refused_before_loading(env):
    scene = load(write_scene(env / "s"))
    with pytest.raises(SigmaError, match="--mode 'twice'"):
        render_scene(scene, RenderOptions(mode="twice"))
    with pytest.raises(SigmaError, match="does not exist"):
        render_scene(scene, RenderOptions(base=str(env / "nope")))


def test_a_model_loaded_once_renders_many_scenes_with_its_identity(env, base, lora):
    loaded = load_model(RenderOptions(base=str(base), loras=[str(lora)], device="cpu"))
    scene = load(write_scene(env / "s"))
    a = render_scene(scene, RenderOptions(steps=1), loaded=loaded)
    b = render_scene(scene, RenderOptions(steps=1, seed=9), loaded=loaded)
    assert a.sidecars[0]["model"] == b.sidecars[0]["model"] == model_identity(base, [(lora, 1.0)])
    assert a.sidecars[0]["seed"] == 3 and b.sidecars[0]["seed"] == 9
