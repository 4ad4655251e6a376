"""The training config: documented default round-trips, --set overrides, located errors, hash semantics."""

import tomllib

import pytest

from sigmascene.errors import SigmaError
from sigmascene.train.config import DEFAULT_TARGET, TrainConfig
from sigmascene.train.config_file import apply_set, default_toml, load_config, write_default


def test_init_file_documents_every_setting_and_reads_back_as_the_defaults(tmp_path):
    path = write_default(tmp_path / "cfg.toml")
    text = path.read_text()
    cfg = load_config(path)
    assert cfg.model_dump() == TrainConfig().model_dump()
    for name in ("rank", "alpha", "condition_mask", "grad_accum", "full_prompt_prob", "box_jitter", "checkpoint_every"):
        line = next(i for i, ln in enumerate(text.splitlines()) if ln.startswith(f"{name} ="))
        assert text.splitlines()[line - 1].startswith("# "), f"{name} has no comment above it"


def test_defaults_are_the_papers_recipe():
    cfg = TrainConfig()
    assert (cfg.lora.rank, cfg.lora.alpha) == (128, 128.0)
    assert cfg.optim.optimizer == "prodigy" and cfg.optim.lr == 1.0
    stages = [(s.steps, s.min_subjects, s.max_subjects) for s in cfg.curriculum.stages]
    assert stages == [(30000, 1, 4), (20000, 3, None), (20000, 5, None)]
    assert cfg.total_steps == 70000
    assert cfg.data.box_jitter == 0.01 and cfg.data.full_prompt_prob == 0.5
    assert cfg.lora.target == DEFAULT_TARGET


def test_init_refuses_to_overwrite(tmp_path):
    write_default(tmp_path / "cfg.toml")
    with pytest.raises(SigmaError, match="refusing to overwrite"):
        write_default(tmp_path / "cfg.toml")
    write_default(tmp_path / "cfg.toml", force=True)


def test_set_overrides_nested_values_and_list_items(tmp_path):
    path = write_default(tmp_path / "cfg.toml")
    cfg = load_config(path, ["optim.grad_accum=4", "curriculum.stages.1.steps=7", "model.base=tiny",
                             "data.structure.box2d=0", "validation.scenes=[\"a.sigma\"]"])
    assert cfg.optim.grad_accum == 4
    assert cfg.curriculum.stages[1].steps == 7
    assert cfg.model.base == "tiny"
    assert cfg.data.structure.normalised()["box2d"] == 0
    assert cfg.validation.scenes == ["a.sigma"]


def test_bad_value_in_file_points_at_its_line(tmp_path):
    path = tmp_path / "cfg.toml"
    path.write_text(default_toml().replace("grad_accum = 1", "grad_accum = 0"))
    with pytest.raises(SigmaError) as err:
        load_config(path)
    line = next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if ln.startswith("grad_accum"))
    d = err.value.diagnostics[0]
    assert d.loc is not None and d.loc.line == line and "optim.grad_accum" in d.message


def test_bad_set_names_the_override_not_the_file(tmp_path):
    path = write_default(tmp_path / "cfg.toml")
    with pytest.raises(SigmaError) as err:
        load_config(path, ["optim.lr=-1"])
    d = err.value.diagnostics[0]
    assert "--set optim.lr=-1" in d.message and d.loc is None


def test_unknown_setting_suggests_the_close_name(tmp_path):
    path = write_default(tmp_path / "cfg.toml")
    with pytest.raises(SigmaError) as err:
        load_config(path, ["lora.rnak=4"])
    assert "unknown setting `lora.rnak`" in err.value.format() and "did you mean 'rank'" in err.value.format()


def test_malformed_toml_and_missing_file_are_located_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\nseed = = 3\n")
    with pytest.raises(SigmaError) as err:
        load_config(bad)
    assert err.value.diagnostics[0].loc.line == 2
    with pytest.raises(SigmaError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(SigmaError, match="KEY=VALUE"):
        apply_set({}, "novalue")


def test_invalid_regex_resolution_and_stage_ranges_are_rejected(tmp_path):
    path = write_default(tmp_path / "cfg.toml")
    for item, words in (("lora.target=\"(\"", "regex"), ("data.resolution=100", "multiple of 16"),
                        ("curriculum.stages.0.max_subjects=0", "greater than or equal")):
        with pytest.raises(SigmaError, match=words):
            load_config(path, [item])


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    path = write_default(tmp_path / "sub" / "cfg.toml")
    cfg = load_config(path, ["data.root=ds", "run.dir=runs/a"])
    assert cfg.data_root == (tmp_path / "sub" / "ds").resolve()
    assert cfg.run_dir == (tmp_path / "sub" / "runs" / "a").resolve()
    assert cfg.cache_dir == cfg.run_dir / "cache"


def test_config_hash_ignores_logging_but_not_the_recipe():
    a = TrainConfig()
    assert a.config_hash() == TrainConfig(run={"log_every": 3, "dir": "elsewhere", "checkpoint_every": 9}).config_hash()
    assert a.config_hash() != TrainConfig(lora={"rank": 64}).config_hash()
    assert a.config_hash() != TrainConfig(lora={"condition_mask": True}).config_hash()


def test_resolved_config_round_trips_through_its_own_toml():
    cfg = TrainConfig(model={"base": "tiny"}, optim={"grad_accum": 3}, curriculum={"stages": [{"steps": 5}]})
    again = TrainConfig.model_validate(tomllib.loads(cfg.to_toml()))
    assert again.model_dump() == cfg.model_dump() and again.config_hash() == cfg.config_hash()
