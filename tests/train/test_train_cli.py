"""`sigmascene train` on the command line: --init, clean located errors (never a traceback), a tiny run."""

import pytest
from train_support import synthetic_dataset, tiny_config, write_config
from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.train.config import TrainConfig
from sigmascene.train.config_file import load_config

runner = CliRunner()


def test_init_writes_a_documented_default(tmp_path):
    res = runner.invoke(app, ["train", "--init", str(tmp_path / "cfg.toml")])
    assert res.exit_code == 0, res.output
    assert load_config(tmp_path / "cfg.toml").model_dump() == TrainConfig().model_dump()
    again = runner.invoke(app, ["train", "--init", str(tmp_path / "cfg.toml")])
    assert again.exit_code == 1 and "refusing to overwrite" in again.output and "Traceback" not in again.output


@pytest.mark.parametrize("args,words", [
    ([], "no config given"),
    (["missing.toml"], "does not exist"),
    (["CFG", "--set", "optim.lr=0"], "optim.lr: Input should be greater than 0 (from --set optim.lr=0)"),
    (["CFG", "--set", "nonsense"], "--set expects KEY=VALUE"),
    (["CFG", "--resume", "nowhere"], "is not a complete sigmascene checkpoint"),
    (["CFG", "--set", "model.base=tiny", "--set", "data.root=nodata"], "no index.jsonl"),
    (["CFG", "--init", "x.toml"], "takes no CONFIG"),
])
def test_user_mistakes_are_one_clean_error_and_exit_1(tmp_path, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "cfg.toml"
    runner.invoke(app, ["train", "--init", str(cfg)])
    args = [str(cfg) if a == "CFG" else a for a in args]
    res = runner.invoke(app, ["train", *args])
    assert res.exit_code == 1, res.output
    assert words in res.output and "Traceback" not in res.output


@pytest.mark.slow
def test_a_tiny_run_from_the_command_line_prints_its_lora(tmp_path, tmp_path_factory):
    data = synthetic_dataset(tmp_path_factory)
    cfg = write_config(tmp_path / "cfg.toml", tiny_config(tmp_path / "run", data, curriculum={
        "stages": [{"steps": 2, "max_subjects": 4}]}, run={"validate_every": 2}))
    res = runner.invoke(app, ["train", str(cfg), "--no-progress"])
    assert "%|" not in res.output and "it/s]" not in res.output  # no tqdm bar from the validation renders
    assert res.exit_code == 0, res.output
    lora = tmp_path / "run" / "lora.safetensors"
    assert lora.is_file()
    # one line per event: the LoRA's path once, no label said twice
    assert res.output.count(str(lora)) == 1 and "LoRA at" in res.output and "stage stage" not in res.output


def test_a_missing_dataset_index_points_at_the_config_line_naming_data_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[model]\nbase = "tiny"\n\n[data]\nresolution = 64\n  root = "nodata"\n')
    res = runner.invoke(app, ["train", str(cfg)])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert f"{cfg}:6:3" in res.output and "data.root: no index.jsonl in" in res.output
    assert 'root = "nodata"' in res.output and ":0:" not in res.output
    res = runner.invoke(app, ["train", str(cfg), "--set", "data.root=elsewhere"])
    assert res.exit_code == 1 and "(from --set data.root=elsewhere)" in res.output, res.output
