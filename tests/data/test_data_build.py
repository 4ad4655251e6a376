"""`data build` on one machine with tiny random-weight models of every stage: config errors, model-folder checks,
an end-to-end build that `data validate` passes and `train` trains on, and rejections with their reasons."""

import json
import shutil

import pytest
import build_support
from build_support import REFERENCE_BUILD, dataset_files, tiny_models, tiny_raw, write_toml
from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.data.recipe import load_config, run_build, validate_config, write_default
from sigmascene.data.recipe.stages.prompts import builtin_scene, parse_llm_answer
from sigmascene.errors import ConfigError, ModelError

runner = CliRunner()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tiny_models(tmp_path_factory)


@pytest.fixture(scope="module")
def built(models, tmp_path_factory):
    """One 6-sample CLI build, shared by the tests that read its output."""
    root = tmp_path_factory.mktemp("built")
    cfg = write_toml(root / "build.toml", tiny_raw(models, **REFERENCE_BUILD))
    out = root / "ds"
    res = runner.invoke(app, ["data", "build", "--config", str(cfg), "--out", str(out), "--count", "6"])
    assert res.exit_code == 0, res.output
    build_support._CACHE.setdefault("built", (cfg, out))  # the resume and Ray tests compare with this build
    return cfg, out, res.output


# -- config -------------------------------------------------------------------------------------------------
def test_init_writes_a_commented_config_that_loads_back(tmp_path):
    res = runner.invoke(app, ["data", "build", "--init", "--config", str(tmp_path / "b.toml")])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "b.toml").read_text()
    assert "# Detection score filter" in text and "[stages.segment]" in text
    cfg = load_config(tmp_path / "b.toml")
    assert cfg.stages.image.model == "models/FLUX.1-dev" and cfg.build.width == 1024
    again = runner.invoke(app, ["data", "build", "--init", "--config", str(tmp_path / "b.toml")])
    assert again.exit_code == 1 and "refusing to overwrite" in again.output


def test_bad_config_values_are_located_errors_with_the_line(tmp_path):
    path = tmp_path / "b.toml"
    write_default(path)
    text = path.read_text().replace("box_threshold = 0.3", "box_threshold = 3").replace("steps = 28", "stepz = 28", 1)
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = err.value.format()
    line = text.splitlines().index("box_threshold = 3") + 1
    assert f"b.toml:{line}:1: error: stages.segment.box_threshold" in msg
    assert "unknown setting `stages.image.stepz`" in msg and "did you mean 'steps'?" in msg


def test_invalid_toml_and_missing_file_are_one_clear_error(tmp_path):
    (tmp_path / "b.toml").write_text("[build]\nseed = = 3\n")
    res = runner.invoke(app, ["data", "build", "--config", str(tmp_path / "b.toml"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "b.toml:2" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["data", "build", "--config", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "does not exist" in res.output and "--init" in res.output


def test_missing_and_wrong_kind_model_folders_are_named_by_stage_before_anything_is_made(models, tmp_path):
    raw = tiny_raw(models)
    raw["stages"]["image"]["model"] = str(models["repose"])  # a Kontext folder is no text-to-image model
    raw["stages"]["depth"]["model"] = str(models["identity"])  # DINOv2 is no depth model
    raw["stages"]["repose"]["model"] = str(tmp_path / "nowhere")
    out = tmp_path / "out"
    with pytest.raises(ModelError) as err:
        run_build(validate_config(raw), out)
    msg = err.value.format()
    assert f"stages.image: {models['repose']} holds a FluxKontextPipeline pipeline" in msg
    assert f"stages.depth: {models['identity']} holds a `dinov2` model" in msg
    assert f"stages.repose: repose model folder {tmp_path / 'nowhere'} does not exist" in msg
    assert not out.exists()


def test_builtin_prompts_are_seeded_and_mention_every_subject():
    import numpy as np

    a, b = builtin_scene(np.random.default_rng(5), 4), builtin_scene(np.random.default_rng(5), 4)
    assert a == b and len(a["subjects"]) == 4
    for s in a["subjects"]:
        assert f"@{s['name']}" in a["full"] and s["caption"].endswith(s["object"])


def test_llm_answers_are_validated():
    good = ('Sure: {"subjects": [{"name": "mug", "caption": "a red mug"}], "background": "a desk", '
            '"full": "@mug on a desk"}')
    assert parse_llm_answer(good, 1)["subjects"][0]["caption"] == "a red mug"
    for bad, why in [("no json here", "no JSON"), ('{"subjects": [', "no JSON"), ("{'a': 1}", "malformed"),
                     ('{"subjects": [], "background": "a desk", "full": "x y z"}', "0 subjects"),
                     (good.replace("@mug on", "it is on"), "does not mention @mug")]:
        with pytest.raises(ValueError, match=why):
            parse_llm_answer(bad, 1)


@pytest.mark.parametrize("grounding", [False, True], ids=["owlv2", "grounding-dino"])
def test_each_detector_kind_gives_boxes_per_caption_that_sam_turns_into_image_sized_masks(models, tmp_path,
                                                                                         grounding):
    import numpy as np
    from PIL import Image

    from sigmascene.data.recipe.plan import Plan, make_stage

    raw = tiny_raw(models, grounding=grounding)
    raw["stages"]["segment"].update(max_overlap=1.0)
    plan = Plan(validate_config(raw), tmp_path, stages=("segment",))
    stage = make_stage("segment", plan)
    stage.load()
    assert stage.grounding is grounding
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    captions = ["a red wooden chair", "a blue lamp"]
    boxes, labels, scores = stage.detect(image, captions)
    assert boxes and set(labels) <= {0, 1} and all(0.0 <= s <= 1.0 for s in scores)
    assert all(0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64 for x0, y0, x1, y1 in boxes)
    outcome = stage.process_image(image, [{"name": "chair", "caption": captions[0]},
                                          {"name": "lamp", "caption": captions[1]}])
    if outcome.ok:
        assert set(outcome.files) == {"chair_mask.png", "lamp_mask.png"}
        with Image.open(__import__("io").BytesIO(outcome.files["chair_mask.png"])) as m:
            assert m.size == (64, 64)
    else:
        assert outcome.filter.startswith("segment.")
    stage.close()


# -- building -----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_build_writes_a_dataset_validate_passes_with_provenance_and_a_report(built):
    cfg, out, output = built
    assert "data build: 6 kept of 6" in output and "s / sample" in output
    res = runner.invoke(app, ["data", "validate", str(out)])
    assert res.exit_code == 0, res.output
    assert "6 samples: 0 errors" in res.output
    lines = [json.loads(x) for x in (out / "index.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == [f"{i:06d}" for i in range(6)]
    for line in lines:
        assert line["source"].startswith("build:") and line["camera"]["estimated"] is True
        for s in line["subjects"]:
            assert f"@{s['name']}" in line["prompts"]["full"] and s["box2d"] and s["box3d"]
            assert s["identity"] != line["image"]
        prov = json.loads((out / "samples" / line["id"] / "build.json").read_text())
        assert set(prov["seeds"]) == {"prompts", "image", "segment", "depth", "repose", "identity"}
        assert prov["models"]["image"][0]["kind"] == "FluxPipeline" and prov["models"]["image"][0]["config_hash"]
    report = json.loads((out / "build.json").read_text())
    assert report["kept"] == 6 and set(report["seconds_per_sample"]) >= {"image", "repose"}
    assert (out / "rejects.jsonl").read_text() == ""


@pytest.mark.slow
def test_a_finished_build_is_not_overwritten_and_resuming_redoes_nothing(built, tmp_path):
    cfg, out, _ = built
    res = runner.invoke(app, ["data", "build", "--config", str(cfg), "--out", str(out)])
    assert res.exit_code == 1 and "already holds a build" in res.output and "--resume" in res.output
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    before = dataset_files(copy)
    report = run_build(load_config(cfg), copy, count=6, resume=True)
    assert all(c["processed"] == 0 and c["reused"] + c["blocked"] == 6 for c in report.stage_counts.values())
    assert dataset_files(copy) == before


@pytest.mark.slow
def test_detection_misses_and_filter_rejections_land_in_rejects_with_stage_and_reason(models, tmp_path):
    miss = tiny_raw(models, shard_size=2)
    miss["stages"]["segment"]["box_threshold"] = 1.0  # only a saturated score passes: the random detector misses
    report = run_build(validate_config(miss), tmp_path / "miss", count=3)
    assert report.rejections.get("segment.not_found", 0) >= 1 and report.kept + report.rejected == 3
    rej = [json.loads(x) for x in (tmp_path / "miss" / "rejects.jsonl").read_text().splitlines()]
    assert len(rej) == report.rejected and all(r["stage"] == "segment" for r in rej)
    assert "not found: best score" in rej[0]["reason"] and "box_threshold 1" in rej[0]["reason"]
    kept = (tmp_path / "miss" / "index.jsonl").read_text().splitlines()
    assert len(kept) == report.kept and not {r["id"] for r in rej} & {json.loads(x)["id"] for x in kept}

    copy = tiny_raw(models, shard_size=2)
    copy["stages"]["identity"].update(min_similarity=-1.0, max_similarity=-0.999)  # any real repose is "a copy"
    report = run_build(validate_config(copy), tmp_path / "copy", count=2)
    assert report.rejections == {"identity.not_reposed": 2}
    rej = [json.loads(x) for x in (tmp_path / "copy" / "rejects.jsonl").read_text().splitlines()]
    assert rej[0]["stage"] == "identity" and "not reposed" in rej[0]["reason"]


@pytest.mark.slow
def test_malformed_llm_answers_are_retried_then_the_sample_is_rejected(models, tmp_path):
    raw = tiny_raw(models, llm=True, shard_size=2)
    report = run_build(validate_config(raw), tmp_path / "llm", count=2)
    assert report.kept == 0 and report.rejections == {"prompts.llm_invalid": 2}
    rej = json.loads((tmp_path / "llm" / "rejects.jsonl").read_text().splitlines()[0])
    assert rej["stage"] == "prompts" and "in 2 attempts" in rej["reason"]
    assert report.stage_counts["image"]["processed"] == 0  # nothing downstream ran for rejected samples


@pytest.mark.slow
def test_build_then_validate_then_train_a_few_steps_as_a_user_would(built, tmp_path):
    """The issue's "done means": `data build` -> `data validate` -> `train` on the built folder, all via the CLI."""
    _, out, _ = built
    assert runner.invoke(app, ["data", "validate", str(out)]).exit_code == 0
    run = tmp_path / "run"
    cfg = write_toml(tmp_path / "run.toml", {
        "run": {"dir": str(run), "checkpoint_every": 2, "validate_every": 0, "log_every": 1, "keep_checkpoints": 1},
        "model": {"base": "tiny", "max_sequence_length": 32}, "lora": {"rank": 4, "alpha": 4.0},
        "data": {"root": str(out)}, "validation": {"samples": 1, "steps": 1},
        "curriculum": {"stages": [{"name": "1", "steps": 3, "min_subjects": 1}]}})
    res = runner.invoke(app, ["train", str(cfg), "--no-progress", "--resume", "never"])
    assert res.exit_code == 0, res.output
    assert (run / "lora.safetensors").is_file() and "LoRA at" in res.output


@pytest.mark.slow
def test_calibrate_reports_mask_iou_and_depth_absrel_against_synthetic_truth(models, tmp_path):
    cfg = write_toml(tmp_path / "b.toml", tiny_raw(models))
    res = runner.invoke(app, ["data", "build", "--config", str(cfg), "--calibrate", "2", "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert "mean mask IoU" in res.output and "AbsRel" in res.output
    result = json.loads((tmp_path / "c" / "calibration.json").read_text())
    assert result["scenes"] == 2 and 0.0 <= result["segment"]["mean_mask_iou"] <= 1.0
    assert result["depth"]["kind"] == "relative" and result["depth"]["abs_rel"] >= 0.0
