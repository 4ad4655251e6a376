"""Scoring a whole set end to end: real scenes compiled by the real compiler, tiny local backbones, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import sigmascene
from sigmascene import Scene, box2d, box3d
from sigmascene.cli import app
from sigmascene.eval import case_scores as score_mod
from sigmascene.eval.evalset import Case, EvalSet
from sigmascene.eval.score_run import run_scoring
from sigmascene.testing.tiny_eval import save_tiny_weights
from sigmascene.eval.weights import Weights

COLOURS = {"corgi": (200, 120, 40), "lamp": (30, 60, 200), "vase": (20, 160, 60)}


def _refs(folder):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        im = np.zeros((32, 32, 3), np.uint8) + np.asarray(colour, np.uint8)
        im[8:24, 8:24] = rng.integers(0, 255, (16, 16, 3))  # a textured middle so crops have structure
        Image.fromarray(im).save(folder / f"{name}.png")


def _scenes():
    one = Scene(canvas=(64, 64), prompt="a garden")
    one.add_subject("corgi", "corgi.png", box2d(0.2, 0.2, 0.8, 0.8), depth=2.0)
    two = Scene(canvas=(64, 64), prompt="a room", compose="@corgi sits near @lamp")
    two.add_subject("corgi", "corgi.png", box2d(0.05, 0.3, 0.5, 0.9), depth=3.0)
    two.add_subject("lamp", "lamp.png", box3d(center=(0.4, 0.0, -2.5), size=(0.6, 0.8, 0.6), yaw=25))
    flat = Scene(canvas=(64, 64), prompt="a table")
    flat.add_subject("vase", "vase.png", box2d(0.1, 0.1, 0.45, 0.9))
    flat.add_subject("lamp", "lamp.png", box2d(0.55, 0.1, 0.95, 0.9))
    return {"one": one, "two": two, "flat": flat}


def _paste_render(scene: Scene) -> np.ndarray:
    """An output that reproduces every reference in its region: the best an identity metric can see."""
    compiled = sigmascene.compile(scene)
    out = np.full((64, 64, 3), 240, np.uint8)
    for name in compiled.order:  # far to near, so nearer subjects cover farther ones
        ys, xs = np.nonzero(compiled.coverage[name])
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        ref = Image.open(scene.resolve(scene.subject(name).ref)).convert("RGB").resize((x1 - x0, y1 - y0))
        out[y0:y1, x0:x1] = np.asarray(ref)
    return out


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return Weights.from_toml(save_tiny_weights(tmp_path_factory.mktemp("weights")))


@pytest.fixture()
def evalset(tmp_path):
    root = tmp_path / "set"
    cases = []
    for cid, scene in _scenes().items():
        folder = root / "cases" / cid
        _refs(folder)
        (folder / "scene.sigma").write_text(sigmascene.dumps(scene), encoding="utf-8")
        cases.append(Case(id=cid, scene=f"cases/{cid}/scene.sigma"))
    es = EvalSet(name="tiny", cases=cases)
    es.save(root)
    es = EvalSet.load(root)
    rng = np.random.default_rng(1)
    for case in es.cases:
        scene = es.load_scene(case)
        for method, image in (("paste", _paste_render(scene)), ("noise", rng.integers(0, 255, (64, 64, 3)))):
            es.render_dir(method).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image.astype(np.uint8)).save(es.render_dir(method) / f"{case.id}.png")
    return es


def test_pasted_references_score_higher_identity_than_noise(evalset, weights):
    report = run_scoring(evalset, weights, only=["dino_i", "siglip_i"], worst=3)
    by = {(s.method, s.case): s for s in report.scores}
    assert len(by) == 6
    for cid in ("one", "two", "flat"):
        assert by[("paste", cid)].values["dino_i"] > by[("noise", cid)].values["dino_i"]
        assert by[("paste", cid)].values["siglip_i"] > by[("noise", cid)].values["siglip_i"]
    assert by[("paste", "one")].values["dino_i"] > 99.0  # the crop is the reference, resized


def test_case_rows_carry_group_control_and_per_subject_scores(evalset, weights):
    report = run_scoring(evalset, weights, worst=0)
    by = {(s.method, s.case): s for s in report.scores}
    one, two, flat = by[("paste", "one")], by[("paste", "two")], by[("paste", "flat")]
    assert (one.group, one.control, one.n_subjects) == ("single", "Bbox,Depth", 1)
    assert (two.group, two.control) == ("multi", "Bbox+3D box,Depth")
    assert (flat.group, flat.control) == ("multi", "Bbox")
    assert [s.subject for s in two.subjects] == sigmascene.compile(evalset.load_scene(evalset.case("two"))).order
    assert all(s.dino_i is not None and s.pixels > 0 for s in two.subjects)
    assert flat.values["depth_mse"] is None  # plain 2D boxes give no depth: "-" like the paper's Bbox rows
    assert one.values["depth_mse"] is not None and one.values["depth_mse"] >= 0
    for key in ("siglip_t", "clip_iqa"):
        assert -100 <= two.values[key] <= 100
    assert "musiq" in report.skipped and "musiq" not in two.values
    assert {f.name for f in report.files} >= {"cases.csv", "subjects.csv", "summary.md", "summary.csv"}


def test_scores_are_cached_until_a_render_changes(evalset, weights, monkeypatch):
    only = ["dino_i"]
    run_scoring(evalset, weights, only=only, worst=0)
    calls = []
    real = score_mod.score_image
    monkeypatch.setattr(score_mod, "score_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = run_scoring(evalset, weights, only=only, worst=0)
    assert calls == [] and len(again.scores) == 6
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(evalset.render_dir("noise") / "one.png")
    run_scoring(evalset, weights, only=only, worst=0)
    assert len(calls) == 1
    run_scoring(evalset, weights, only=["dino_i", "siglip_i"], worst=0)  # another metric set: all rescored
    assert len(calls) == 7
    lines = (evalset.root / "scores" / "noise.jsonl").read_text().splitlines()
    assert len(lines) == 3 and {json.loads(x)["case"] for x in lines} == {"one", "two", "flat"}


def test_without_weights_the_table_keeps_its_layout_and_says_what_is_missing(evalset):
    report = run_scoring(evalset, Weights(), worst=3)
    assert len(report.scores) == 6
    assert report.metrics == ["dino_i", "siglip_i", "siglip_t", "depth_mse", "clip_iqa", "musiq"]
    assert set(report.skipped) == set(report.metrics)
    assert all(v is None for r in report.rows for v in r.values.values())
    assert not (evalset.root / "report" / "worst.png").exists()


def test_cli_score_with_tiny_weights_says_so_and_leaves_the_paper_rows_out(evalset, weights):
    """An honest table: tiny random backbones are named in a heading line, in the output and in summary.md, and
    the paper's rows do not stand beside numbers that mean nothing (tests/eval/test_eval_honest_table.py)."""
    toml = weights.dino.parent / "eval.toml"
    res = CliRunner().invoke(app, ["eval", "score", str(evalset.root), "--weights", str(toml), "-m", "paste"])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "DINO-I" in out and "SigLIP-T" in out and "Multi-subject" in out and "SIGMA-GEN (paper)" not in out
    assert "TINY RANDOM WEIGHTS" in out and "the paper's rows are left out" in out
    assert (evalset.root / "report" / "summary.md").read_text().startswith("**TINY RANDOM WEIGHTS")
    assert "missing: MUSIQ skipped" in out
    assert (evalset.root / "report" / "worst.png").is_file()


def test_cli_score_without_weights_names_each_flag(evalset):
    res = CliRunner().invoke(app, ["eval", "score", str(evalset.root), "--no-paper"])
    assert res.exit_code == 0, res.output
    for flag in ("--dino DIR", "--siglip DIR", "--depth DIR", "--clip DIR"):
        assert flag in res.output


@pytest.mark.parametrize("args, message", [
    (["eval", "score", "{tmp}/nowhere"], "is not an eval set"),
    (["eval", "score", "{set}", "--method", "pastee"], "did you mean 'paste'"),
    (["eval", "score", "{set}", "--metric", "fid"], "unknown metric 'fid'"),
    (["eval", "score", "{set}", "--dino", "{tmp}/no-such-folder"], "does not exist"),
])
def test_cli_user_errors_exit_1_without_a_traceback(evalset, tmp_path, args, message):
    args = [a.format(tmp=tmp_path, set=evalset.root) for a in args]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1
    assert message in res.output
    assert "Traceback" not in res.output


def test_a_broken_case_is_reported_and_the_rest_still_scored(evalset, weights):
    (evalset.root / "cases" / "two" / "lamp.png").unlink()
    report = run_scoring(evalset, weights, only=["dino_i"], worst=0)
    assert sorted(what for what, _ in report.failed) == ["noise/two", "paste/two"]
    assert all("lamp.png" in reason for _, reason in report.failed)
    assert {s.case for s in report.scores} == {"one", "flat"}
    res = CliRunner().invoke(app, ["eval", "score", str(evalset.root), "--dino", str(weights.dino),
                                   "--metric", "dino_i"])
    assert res.exit_code == 1 and "failed paste/two:" in res.output and "Traceback" not in res.output


def test_editing_a_scene_invalidates_its_cached_scores(evalset, weights, monkeypatch):
    run_scoring(evalset, weights, only=["dino_i"], worst=0)
    calls = []
    real = score_mod.score_image
    monkeypatch.setattr(score_mod, "score_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    path = evalset.root / "cases" / "flat" / "scene.sigma"
    path.write_text(path.read_text().replace('"a table"', '"a long table"'))
    report = run_scoring(evalset, weights, only=["dino_i"], worst=0)
    assert len(calls) == 2 and len(report.scores) == 6  # flat, for both methods
