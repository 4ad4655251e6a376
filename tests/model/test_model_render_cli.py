"""`sigmascene render`: image + reproducible sidecar, seeds, model lookup and clean errors, on a tiny CPU model."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.model.lora import add_sigma_lora, save_sigma_lora
from sigmascene.testing.tiny_pipeline import make_tiny_components, save_tiny_sigma_lora

from test_model_pipeline import write_scene

runner = CliRunner()



@pytest.fixture(scope="module")
def lora(tmp_path_factory):
    """The tiny base's SIGMA LoRA (B = 0): with it a tiny base renders the `sigma` method."""
    return save_tiny_sigma_lora(tmp_path_factory.mktemp("loras") / "tiny_sigma.safetensors")


def render(*args):
    res = runner.invoke(app, ["render", *map(str, args)])
    assert "Traceback" not in res.output, res.output
    return res


def test_render_writes_image_and_sidecar(env, base, lora):
    scene = write_scene(env / "s")
    out = env / "out" / "room.png"
    res = render(scene, "--base", base, "--lora", lora, "-o", out, "--steps", "2")
    assert res.exit_code == 0, res.output
    assert Image.open(out).size == (64, 48)
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["seed"] == 3 and side["steps"] == 2 and side["subjects"] == ["cat", "box_1"]
    assert side["prompt"] == "Place these subjects to compose: a grey cat sits next to box 1"
    assert len(side["scene"]["hash"]) == 64 and len(side["scene"]["maps_hash"]) == 64
    assert side["model"]["base"] == str(base.resolve()) and side["method"] == "sigma"
    assert [e["path"] for e in side["model"]["loras"]] == [str(lora.resolve())]
    assert {"denoise_s", "load_s", "compile_s", "total_s"} <= set(side["timings"])
    assert "--seed 3" in side["command"] and side["versions"]["diffusers"]
    assert side["identity_block"] == [32, 32]  # half the canvas, rounded to whole tokens by the compiler


def test_identity_size_option_reaches_the_compiler(env, base, lora):
    scene = write_scene(env / "s")
    res = render(scene, "--base", base, "--lora", lora, "-o", env / "i.png", "--steps", "1", "--identity-size", "16x32")
    assert res.exit_code == 0, res.output
    side = json.loads((env / "i.json").read_text())
    assert side["identity_block"] == [16, 32] and "--identity-size 16x32" in side["command"]
    bad = render(scene, "--base", base, "--lora", lora, "-o", env / "j.png", "--identity-size", "big")
    assert bad.exit_code == 1 and "HxW" in bad.output


def test_same_seed_reproduces_the_image_and_batch_renders_k_seeds(env, base, lora):
    scene = write_scene(env / "s")
    res = render(scene, "--base", base, "--lora", lora, "-o", env / "b.png", "--steps", "2", "--seed", "10",
                 "--batch", "2")
    assert res.exit_code == 0, res.output
    seeds = [json.loads((env / f"b_{s}.json").read_text())["seed"] for s in (10, 11)]
    assert seeds == [10, 11]
    again = render(scene, "--base", base, "--lora", lora, "-o", env / "c.png", "--steps", "2", "--seed", "11")
    assert again.exit_code == 0, again.output
    assert np.array_equal(np.asarray(Image.open(env / "b_11.png")), np.asarray(Image.open(env / "c.png")))
    assert not np.array_equal(np.asarray(Image.open(env / "b_10.png")), np.asarray(Image.open(env / "c.png")))


def test_set_changes_the_scene_hash(env, base, lora):
    scene = write_scene(env / "s")
    text = scene.read_text().replace("sigma 1\n", "sigma 1\nparam d = 1.0\n").replace("depth 1.0", "depth $d")
    scene.write_text(text)
    render(scene, "--base", base, "--lora", lora, "-o", env / "x.png", "--steps", "1")
    render(scene, "--base", base, "--lora", lora, "-o", env / "y.png", "--steps", "1", "--set", "d=3")
    x, y = (json.loads((env / f"{n}.json").read_text()) for n in "xy")
    assert x["scene"]["hash"] != y["scene"]["hash"] and y["scene"]["sets"] == {"d": "3"}
    assert "--set d=3" in y["command"]


def test_base_from_environment_and_iterative_mode(env, base, lora, monkeypatch):
    monkeypatch.setenv("SIGMASCENE_BASE", str(base))
    scene = write_scene(env / "s")
    monkeypatch.setenv("SIGMASCENE_LORA", str(lora))
    res = render(scene, "-o", env / "it.png", "--steps", "1", "--mode", "iterative", "--prompt-mode", "background")
    assert res.exit_code == 0, res.output
    side = json.loads((env / "it.json").read_text())
    assert side["mode"] == "iterative" and side["timings"]["passes"] == 2
    assert side["model"]["base_source"] == "env" and side["prompt"] == "Place these subjects in a small room"


def test_cache_with_a_masked_lora_and_refusal_without(env, base, lora):
    scene = write_scene(env / "s")
    res = render(scene, "--base", base, "-o", env / "n.png", "--steps", "1", "--cache-conditions")
    assert res.exit_code == 1 and "--cache-conditions is an option of the sigma method, not of collage" in res.output
    res = render(scene, "--base", base, "--lora", lora, "-o", env / "n.png", "--steps", "1", "--cache-conditions")
    assert res.exit_code == 1 and "needs a LoRA trained with the condition attention mask" in res.output
    tr = make_tiny_components(0)["transformer"]
    add_sigma_lora(tr, rank=2, alpha=2)
    lora = save_sigma_lora(env / "sigma.safetensors", tr, rank=2, alpha=2, condition_mask=True, config_hash="run7")
    res = render(scene, "--base", base, "--lora", lora, "-o", env / "m.png", "--steps", "1", "--cache-conditions")
    assert res.exit_code == 0, res.output
    side = json.loads((env / "m.json").read_text())
    assert side["cache_conditions"] and side["condition_mask"]
    (entry,) = side["model"]["loras"]
    assert entry["metadata"]["config_hash"] == "run7" and len(entry["sha256"]) == 64 and entry["weight"] == 1.0


def test_missing_model_is_a_clean_error_with_instructions(env, monkeypatch):
    import sigmascene.demo as demo

    # No base configured and no demo weights built (a fresh source checkout): say how to build or choose one.
    monkeypatch.setattr(demo, "BASE_DIR", env / "no-demo" / "base")
    monkeypatch.setattr(demo, "LORA_FILE", env / "no-demo" / "sigma_lora.safetensors")
    scene = write_scene(env / "s")
    res = render(scene, "-o", env / "z.png")
    assert res.exit_code == 1
    assert "demo model is not built" in res.output and "build_demo.sh" in res.output and "--base" in res.output
    res = render(scene, "--base", env / "nope", "-o", env / "z.png")
    assert res.exit_code == 1 and "does not exist" in res.output
    assert not (env / "z.png").exists()


@pytest.mark.parametrize("args, msg", [(["--mode", "twice"], "--mode 'twice'"),
                                       (["--dtype", "int4"], "--dtype 'int4'"),
                                       (["--lora", "missing.safetensors"], "does not exist")])
def test_bad_options_are_clean_errors(env, base, lora, args, msg):
    scene = write_scene(env / "s")
    res = render(scene, "--base", base, "--lora", lora, "-o", env / "z.png", "--steps", "1", *args)
    assert res.exit_code == 1 and msg in res.output


def test_scene_errors_are_located(env, base, lora):
    bad = env / "bad.sigma"
    bad.write_text('sigma 1\nsubject a { ref "missing.png" box2d (0, 0, 1, 1) }\n')
    res = render(bad, "--base", base, "--lora", lora, "-o", env / "z.png")
    assert res.exit_code == 1 and f"{bad}:2:" in res.output


@pytest.mark.slow
def test_the_living_room_example_renders_on_cpu(env, base, lora):
    """The issue's done-criterion: the shipped example, full 1024x1024 size, through the tiny model."""
    from repo_paths import EXAMPLES

    res = render(EXAMPLES / "living_room.sigma", "--base", base, "--lora", lora, "-o", env / "room.png", "--steps", "1")
    assert res.exit_code == 0, res.output
    assert Image.open(env / "room.png").size == (1024, 1024)
    side = json.loads((env / "room.json").read_text())
    assert len(side["subjects"]) == 6 and side["prompt_mode"] == "full"


def test_out_is_the_output_flag_and_output_still_works_hidden(env, base, lora):
    scene = write_scene(env / "s")
    assert render(scene, "--base", base, "--lora", lora, "--out", env / "a.png", "--steps", "1").exit_code == 0
    assert render(scene, "--base", base, "--lora", lora, "--output", env / "b.png", "--steps", "1").exit_code == 0
    assert (env / "a.png").is_file() and (env / "b.png").is_file()
    assert "--output" not in runner.invoke(app, ["render", "--help"]).output
