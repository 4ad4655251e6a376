"""Issue 30's data-build items: a shrinking resume leaves no stale sample (13), a bad device (25), damaged
transformers weights (26), a model_index.json that is not an object (27) and a garbage tokenizer.json (28) are
one clean error line each, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from build_support import tiny_models, tiny_raw, write_toml
from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.data.recipe import load_config, run_build
from sigmascene.data.recipe.plan import Plan, load_stage, make_stage
from sigmascene.data.validate import validate
from sigmascene.errors import ConfigError, ModelError

runner = CliRunner()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tiny_models(tmp_path_factory)


def copied(models: dict[str, Path], tmp_path: Path, stage: str) -> dict[str, Path]:
    """The tiny folders with `stage`'s own copy, free to damage."""
    out = dict(models)
    out[stage] = tmp_path / f"own-{stage}"
    shutil.copytree(models[stage], out[stage])
    return out


@pytest.mark.slow
def test_item_13_a_resume_with_a_smaller_count_removes_the_extra_samples_and_validate_sees_strays(models, tmp_path):
    cfg = load_config(write_toml(tmp_path / "b.toml", tiny_raw(models)))
    out = tmp_path / "ds"
    first = run_build(cfg, out, count=3)
    assert first.kept >= 1
    before = sorted(p.name for p in (out / "samples").iterdir())
    report = run_build(cfg, out, count=1, resume=True)
    after = sorted(p.name for p in (out / "samples").iterdir())
    assert set(after) <= {"000000"} and len(after) == report.kept
    if len(before) > len(after):
        assert any("beyond --count 1" in n for n in report.notes)
    v = validate(out)
    assert v.ok and not any("does not list" in p.message for p in v.problems)
    # growing again reuses the stage outputs: nothing is recomputed
    again = run_build(cfg, out, count=3, resume=True)
    assert sorted(p.name for p in (out / "samples").iterdir()) == before
    assert sum(c["processed"] for c in again.stage_counts.values()) == 0


def test_item_13_validate_reports_sample_folders_the_index_does_not_list(tmp_path):
    from sigmascene.data.synth import SynthConfig, synthesize

    synthesize(tmp_path / "ds", 2, SynthConfig(seed=0, size=64, min_subjects=1, max_subjects=2), workers=1)
    stray = tmp_path / "ds" / "samples" / "000099"
    shutil.copytree(tmp_path / "ds" / "samples" / "000000", stray)
    v = validate(tmp_path / "ds")
    (p,) = [p for p in v.problems if "does not list" in p.message]
    assert p.severity == "warning" and "000099" in p.message
    res = runner.invoke(app, ["data", "validate", str(tmp_path / "ds")])
    assert "000099" in res.output


@pytest.mark.parametrize("device", ["tpu:9", "tpu", "cuda:x", "gpu"])
def test_item_25_an_unknown_device_in_the_build_config_is_a_located_error(models, tmp_path, device):
    raw = tiny_raw(models)
    raw["build"]["device"] = device
    path = write_toml(tmp_path / "b.toml", raw)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = err.value.format()
    assert device in text and "cpu" in text and "b.toml:" in text
    res = runner.invoke(app, ["data", "build", "--config", str(path), "--out", str(tmp_path / "o"), "--count", "1"])
    assert res.exit_code == 1 and "Traceback" not in res.output and device in res.output


@pytest.mark.parametrize("stage,damage", [
    ("depth", "truncated"), ("identity", "garbage"), ("detect", "truncated"), ("segment", "garbage")])
def test_item_26_damaged_transformers_weights_are_one_model_error(models, tmp_path, stage, damage):
    own = copied(models, tmp_path, stage)
    weights = own[stage] / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\x00garbage" * 64)
    cfg = load_config(write_toml(tmp_path / "b.toml", tiny_raw(own)))
    plan = Plan(cfg, tmp_path / "ds")
    name = "segment" if stage in ("detect", "segment") else stage
    with pytest.raises(ModelError) as err:
        load_stage(make_stage(name, plan))
    msg = err.value.format()
    assert f"stage {name}: could not load the model" in msg and str(own[stage]) in msg and "\n  hint:" in msg


def test_item_27_a_model_index_that_is_not_an_object_is_named_by_stage(models, tmp_path):
    own = copied(models, tmp_path, "image")
    (own["image"] / "model_index.json").write_text("[1, 2]")
    cfg = load_config(write_toml(tmp_path / "b.toml", tiny_raw(own)))
    with pytest.raises(ModelError, match="stages.image: .* not a diffusers pipeline folder"):
        Plan(cfg, tmp_path / "ds")
    own = copied(models, tmp_path, "depth")
    (own["depth"] / "config.json").write_text('"just a string"')
    cfg = load_config(write_toml(tmp_path / "b2.toml", tiny_raw(own)))
    with pytest.raises(ModelError, match="stages.depth: .* not a transformers model folder"):
        Plan(cfg, tmp_path / "ds2")


def test_item_28_a_garbage_tokenizer_json_is_one_model_error(models, tmp_path):
    own = copied(models, tmp_path, "llm")
    (own["llm"] / "tokenizer.json").write_text("{}")
    raw = tiny_raw(own, llm=True)
    cfg = load_config(write_toml(tmp_path / "b.toml", raw))
    if cfg.stages.prompts.kind != "llm":
        pytest.skip("the tiny config does not use the LLM prompts stage")
    plan = Plan(cfg, tmp_path / "ds")
    with pytest.raises(ModelError, match="stage prompts: could not load the model"):
        load_stage(make_stage("prompts", plan))
