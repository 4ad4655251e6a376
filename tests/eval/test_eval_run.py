"""`eval run`: rendering a set with the tiny offline SIGMA pipeline — resumable, one setting per method folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import sigmascene
from sigmascene import Scene, box2d, mask
from sigmascene.cli import app
from sigmascene.errors import SigmaError
from sigmascene.eval.evalset import Case, EvalSet
from sigmascene.eval.runner import RunOptions, run_set, select_cases

STEPS = 2



@pytest.fixture(scope="module")
def lora(tmp_path_factory):
    from sigmascene.testing.tiny_pipeline import save_tiny_sigma_lora

    return save_tiny_sigma_lora(tmp_path_factory.mktemp("loras") / "tiny_sigma.safetensors")


@pytest.fixture(scope="module")
def pipe(base, lora):
    """The tiny base with its SIGMA LoRA, loaded once through the resolver (a LoadedModel)."""
    from sigmascene.rendering.render import RenderRequest, load_model

    return load_model(RenderRequest(base=str(base), loras=[str(lora)], device="cpu"))


@pytest.fixture()
def evalset(tmp_path):
    root = tmp_path / "set"
    rng = np.random.default_rng(0)
    cases = []
    for cid in ("a", "b", "c"):
        folder = root / "cases" / cid
        folder.mkdir(parents=True)
        for name in ("cat", "lamp"):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{name}.png")
        m = np.zeros((48, 64), np.uint8)
        m[10:40, 30:60] = 255
        Image.fromarray(m).save(folder / "lamp_mask.png")
        scene = Scene(canvas=(64, 48), prompt="a quiet room", seed=3)
        scene.add_subject("cat", "cat.png", box2d(0.05, 0.2, 0.45, 0.9), depth=2.0)
        if cid != "a":
            scene.add_subject("lamp", "lamp.png", mask("lamp_mask.png"), depth=3.0)
        (folder / "scene.sigma").write_text(sigmascene.dumps(scene), encoding="utf-8")
        cases.append(Case(id=cid, scene=f"cases/{cid}/scene.sigma", seed=7 if cid == "c" else None))
    EvalSet(name="run-test", cases=cases).save(root)
    return EvalSet.load(root)


def _opts(**kw):
    return RunOptions(**{"method": "tiny", "steps": STEPS, **kw})


def test_run_renders_every_case_with_a_sidecar_then_skips_them(evalset, pipe):
    first = run_set(pipe, evalset, _opts())
    assert first.rendered == ["a", "b", "c"] and not first.failed
    folder = evalset.render_dir("tiny")
    for cid in ("a", "b", "c"):
        with Image.open(folder / f"{cid}.png") as im:
            assert im.size == (64, 48)
        side = json.loads((folder / f"{cid}.json").read_text())
        assert side["setting"]["steps"] == STEPS and side["setting"]["mode"] == "single"
        assert side["prompt"].startswith("Place these subjects in a quiet room")
    assert json.loads((folder / "c.json").read_text())["seed"] == 7  # the case's seed wins over the scene's
    assert json.loads((folder / "a.json").read_text())["seed"] == 3
    again = run_set(pipe, evalset, _opts())
    assert again.rendered == [] and again.skipped == ["a", "b", "c"]


def test_an_interrupted_case_is_rendered_again(evalset, pipe):
    run_set(pipe, evalset, _opts())
    (evalset.render_dir("tiny") / "b.json").unlink()  # image written, sidecar not: the run died in between
    resumed = run_set(pipe, evalset, _opts())
    assert resumed.rendered == ["b"] and resumed.skipped == ["a", "c"]


def test_resuming_with_another_setting_is_refused(evalset, pipe):
    run_set(pipe, evalset, _opts(), cases=select_cases(evalset, ["a"], None))
    with pytest.raises(SigmaError, match="another setting") as err:
        run_set(pipe, evalset, _opts(steps=STEPS + 1))
    assert "steps" in err.value.format()
    forced = run_set(pipe, evalset, _opts(steps=STEPS + 1), force=True, cases=select_cases(evalset, None, 1))
    assert forced.rendered == ["a"]


def test_iterative_mode_renders_one_pass_per_subject(evalset, pipe):
    out = run_set(pipe, evalset, _opts(method="tiny-it", mode="iterative"))
    assert out.rendered == ["a", "b", "c"]
    side = json.loads((evalset.render_dir("tiny-it") / "b.json").read_text())
    assert side["setting"]["mode"] == "iterative" and side["timings"]["passes"] == 2


def test_a_broken_case_fails_alone(evalset, pipe):
    (evalset.root / "cases" / "b" / "lamp.png").unlink()
    out = run_set(pipe, evalset, _opts())
    assert out.rendered == ["a", "c"]
    assert [cid for cid, _ in out.failed] == ["b"] and "lamp.png" in out.failed[0][1]


def test_select_cases_by_id_and_limit(evalset):
    assert [c.id for c in select_cases(evalset, None, 2)] == ["a", "b"]
    assert [c.id for c in select_cases(evalset, ["c"], None)] == ["c"]
    with pytest.raises(SigmaError, match="no case 'd'"):
        select_cases(evalset, ["d"], None)


def test_cli_run_then_score_puts_the_method_in_the_table(evalset, base, lora, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "run", str(evalset.root), "--base", str(base), "--lora", str(lora),
                              "--steps", str(STEPS), "--device", "cpu", "--limit", "2"])
    assert res.exit_code == 0, res.output
    method = f"{lora.stem}-single"
    assert sorted(p.name for p in evalset.render_dir(method).glob("*.png")) == ["a.png", "b.png"]
    res = runner.invoke(app, ["eval", "score", str(evalset.root), "--metric", "dino_i", "--no-paper"])
    assert res.exit_code == 0, res.output
    assert f"| Multi-subject | {method} | Mask+Bbox,Depth | 1 |" in res.output
    assert "missing: DINO-I skipped" in res.output


def test_cli_run_reports_failed_cases_and_exits_1(evalset, base, lora):
    (evalset.root / "cases" / "c" / "cat.png").unlink()
    res = CliRunner().invoke(app, ["eval", "run", str(evalset.root), "--base", str(base), "--lora", str(lora),
                                   "--steps", str(STEPS), "--device", "cpu", "--method", "m"])
    assert res.exit_code == 1
    assert "failed c:" in res.output and "Traceback" not in res.output
    assert (evalset.render_dir("m") / "a.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["--base", "{tmp}/no-model"], "does not exist"),
    (["--base", "{base}", "--mode", "batch"], "--mode 'batch'"),
    (["--base", "{base}", "--case", "zz"], "no case 'zz'"),
])
def test_cli_run_user_errors_exit_1(evalset, base, tmp_path, args, message):
    args = [a.format(tmp=tmp_path, base=base) for a in args]
    res = CliRunner().invoke(app, ["eval", "run", str(evalset.root)] + args)
    assert res.exit_code == 1 and message in res.output and "Traceback" not in res.output


def test_model_identity_tells_a_retrained_lora_of_the_same_size_apart(tmp_path):
    from sigmascene.rendering.render import model_identity

    lora = tmp_path / "sigma.safetensors"
    lora.write_bytes(b"\x00" * 64)
    before = model_identity(tmp_path, [(lora, 1.0)])
    lora.write_bytes(b"\x01" * 64)
    assert model_identity(tmp_path, [(lora, 1.0)]) != before
    assert model_identity(tmp_path, [(lora, 0.5)]) != model_identity(tmp_path, [(lora, 1.0)])


def test_cli_run_without_a_model_falls_back_to_the_demo_model(evalset, tmp_path, monkeypatch):
    from sigmascene.demo import demo_available

    if not demo_available():
        pytest.skip("demo weights not built")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("SIGMASCENE_BASE", raising=False)
    monkeypatch.delenv("SIGMASCENE_LORA", raising=False)
    res = CliRunner().invoke(app, ["eval", "run", str(evalset.root), "--steps", "1", "--device", "cpu",
                                   "--limit", "1"])
    assert res.exit_code == 0, res.output
    assert "embedded demo model" in res.output
    side = json.loads((evalset.render_dir("demo-single") / "a.json").read_text())
    assert side["model"]["base_source"] == "demo" and side["model"]["loras"][0]["metadata"]["sigma"]


def test_cli_run_compares_several_methods_each_in_its_own_row(evalset, base, lora):
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "run", str(evalset.root), "--model", str(base), "--lora", str(lora),
                              "--steps", "1", "--device", "cpu", "--limit", "1", "--method", "sigma,iterative"])
    assert res.exit_code == 0, res.output
    rows = [f"{lora.stem}-single", f"{lora.stem}-iterative"]
    for row, method in zip(rows, ("sigma", "iterative")):
        side = json.loads((evalset.render_dir(row) / "a.json").read_text())
        assert side["method"] == method and side["row"] == row and side["setting"]["render_method"] == method
    res = runner.invoke(app, ["eval", "score", str(evalset.root), "--metric", "dino_i", "--no-paper"])
    assert res.exit_code == 0 and all(f"| {row} |" in res.output for row in rows), res.output


def test_cli_run_method_misspelt_or_unfit_is_one_clear_error(evalset, base):
    res = CliRunner().invoke(app, ["eval", "run", str(evalset.root), "--model", str(base), "--method", "colage"])
    assert res.exit_code == 1 and "did you mean 'collage'?" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["eval", "run", str(evalset.root), "--model", str(base), "--method", "sigma"])
    assert res.exit_code == 1 and "--method sigma needs a SIGMA LoRA" in res.output
