"""Problems are raised as the kind that fits, so callers catch what they mean; `eval run` keeps going past a
broken case but stops at once when the model or the options are wrong."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import sigmascene
from sigmascene import Scene, box2d
from sigmascene.errors import AssetError, ConfigError, ModelError, SceneValidationError, SigmaError


def test_a_bad_depth_map_is_an_asset_error(tmp_path):
    from sigmascene.compiler.depth import load_depth_map

    Image.new("L", (8, 8)).save(tmp_path / "d.png")  # 8-bit: its scale is unknowable
    with pytest.raises(AssetError, match="16-bit"):
        load_depth_map(tmp_path / "d.png", None, 8, 8)
    (tmp_path / "d.txt").write_text("1")
    with pytest.raises(AssetError):
        load_depth_map(tmp_path / "d.txt", None, 8, 8)


def test_a_missing_dataset_is_an_asset_error(tmp_path):
    from sigmascene.data.io import load_dataset

    with pytest.raises(AssetError, match="index.jsonl"):
        load_dataset(tmp_path)


def test_train_config_problems_are_config_errors(tmp_path):
    from sigmascene.train.config_file import load_config

    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("[optim\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")
    (tmp_path / "ok.toml").write_text("")
    with pytest.raises(ConfigError, match="--set"):
        load_config(tmp_path / "ok.toml", ["optim.lr"])


def test_a_missing_base_model_is_a_model_error_and_a_bad_option_a_config_error(tmp_path):
    from sigmascene.model.config import ModelPaths, require_base
    from sigmascene.model.loading import compute_dtype, load_pipeline

    with pytest.raises(ModelError, match="does not exist"):
        require_base(ModelPaths(tmp_path / "nowhere", None, "flag", None))
    with pytest.raises(ConfigError, match="--dtype"):
        compute_dtype("fp4", None)
    with pytest.raises(ConfigError, match="--offload"):
        load_pipeline(tmp_path, offload="disk")


def test_a_prompt_naming_no_subject_is_a_scene_problem_and_an_unknown_mode_an_option_problem():
    from sigmascene.scene.prompts import build_prompt

    scene = Scene(canvas=(64, 64), prompt="a room", compose="@ghost sits")
    with pytest.raises(SceneValidationError, match="@ghost"):
        build_prompt(scene, "full")
    with pytest.raises(ConfigError, match="prompt mode"):
        build_prompt(scene, "loud")


def test_every_kind_is_still_a_sigma_error():
    for kind in (AssetError, ConfigError, ModelError, SceneValidationError):
        assert issubclass(kind, SigmaError)


# -- eval run: which failures are one case's, which are the run's ------------------------------------------------
@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    from sigmascene.rendering.render import RenderRequest, load_model
    from sigmascene.testing.tiny_pipeline import save_tiny_pipeline, save_tiny_sigma_lora

    root = tmp_path_factory.mktemp("tiny")
    base, lora = save_tiny_pipeline(root / "base"), save_tiny_sigma_lora(root / "sigma.safetensors")
    return load_model(RenderRequest(base=str(base), loras=[str(lora)], device="cpu"))


@pytest.fixture()
def evalset(tmp_path):
    from sigmascene.eval.evalset import Case, EvalSet

    root = tmp_path / "set"
    cases = []
    for cid in ("a", "b", "c"):
        folder = root / "cases" / cid
        folder.mkdir(parents=True)
        Image.fromarray(np.full((32, 32, 3), 90 + 40 * len(cases), np.uint8)).save(folder / "cat.png")
        scene = Scene(canvas=(64, 48), prompt="a quiet room", seed=3)
        scene.add_subject("cat", "cat.png", box2d(0.05, 0.2, 0.45, 0.9), depth=2.0)
        (folder / "scene.sigma").write_text(sigmascene.dumps(scene), encoding="utf-8")
        cases.append(Case(id=cid, scene=f"cases/{cid}/scene.sigma"))
    EvalSet(name="kinds", cases=cases).save(root)
    return EvalSet.load(root)


def test_a_case_with_a_missing_reference_fails_alone(evalset, pipe):
    from sigmascene.eval.runner import RunOptions, run_set

    (evalset.root / "cases" / "b" / "cat.png").unlink()
    summary = run_set(pipe, evalset, RunOptions(method="tiny", steps=1))
    assert summary.rendered == ["a", "c"]
    assert [cid for cid, _ in summary.failed] == ["b"] and "cat.png" in summary.failed[0][1]


@pytest.mark.parametrize("kind", [ModelError, ConfigError])
def test_a_model_or_config_error_stops_the_run(evalset, pipe, monkeypatch, kind):
    from sigmascene.eval import runner

    real = runner.render_case

    def render_case(pipe, evalset, case, *args, **kwargs):
        if case.id == "b":  # as a pipeline whose weights do not fit the scene's conditions would
            raise kind("the transformer does not accept these conditions")
        return real(pipe, evalset, case, *args, **kwargs)

    monkeypatch.setattr(runner, "render_case", render_case)
    with pytest.raises(kind):
        runner.run_set(pipe, evalset, runner.RunOptions(method="tiny", steps=1))
    assert runner.is_finished(evalset.render_dir("tiny"), "a")
    assert not runner.is_finished(evalset.render_dir("tiny"), "c")
