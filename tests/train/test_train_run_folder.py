"""A run folder is self-contained: its config.toml holds absolute paths, `sigmascene train RUN_DIR` continues the
run from its last checkpoint, and an interrupted run prints the exact command that does so."""

import re
import signal
import subprocess
import sys
import time

import pytest
from train_support import STAGES, subprocess_env, synthetic_dataset, tiny_config, write_config

from sigmascene.train.config_file import load_config
from sigmascene.train.watch import read_metrics

CLI = [sys.executable, "-m", "sigmascene.cli"]


def test_saved_config_holds_absolute_paths_and_hashes_like_the_relative_original(tmp_path):
    work = tmp_path / "work"
    (work / "ds").mkdir(parents=True)
    cfg_path = write_config(work / "cfg.toml", tiny_config("runs/r2", "ds", lora={"init": "old.safetensors"}))
    cfg = load_config(cfg_path, ["cache.dir=cache"])
    run = cfg.run_dir
    run.mkdir(parents=True)
    (run / "config.toml").write_text(cfg.resolved().to_toml())
    (run / "metrics.jsonl").write_text("")
    again = load_config(run)  # the folder itself, as the interruption message says
    assert again.data_root == work / "ds" and again.run_dir == run and again.cache_dir == work / "cache"
    assert again.lora_init == work / "old.safetensors"
    assert again.config_hash() == cfg.config_hash()
    assert load_config(run / "config.toml").run_dir == run  # or its config.toml: the same run


def test_a_moved_run_folder_continues_where_it_now_is(tmp_path):
    cfg = load_config(write_config(tmp_path / "cfg.toml", tiny_config(tmp_path / "old", tmp_path / "ds")))
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "config.toml").write_text(cfg.resolved().to_toml())
    (moved / "checkpoints").mkdir()
    assert load_config(moved).run_dir == moved.resolve()


def _command_in(log: str) -> list[str]:
    m = re.search(r"continue with: (sigmascene train .+)", log)
    assert m, log[-2000:]
    return m.group(1).split()


@pytest.mark.slow
def test_ctrl_c_prints_the_command_that_continues_the_step_counter(tmp_path, tmp_path_factory):
    data = synthetic_dataset(tmp_path_factory)
    work = tmp_path / "work"
    work.mkdir()
    (work / "ds").symlink_to(data)
    long = [dict(s, steps=30) for s in STAGES]
    cfg = tiny_config("runs/r2", "ds", run={"checkpoint_every": 1000}, curriculum={"stages": long})
    write_config(work / "cfg.toml", cfg)
    env = subprocess_env(SIGMASCENE_PROGRESS_EVERY="0")
    run = work / "runs" / "r2"
    with open(tmp_path / "log1.txt", "wb") as log:
        p = subprocess.Popen(CLI + ["train", "cfg.toml", "--set", "lora.dropout=0.0"], cwd=work, env=env,
                             stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 120
        while len(read_metrics(run)) < 3 and p.poll() is None and time.monotonic() < end:
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=60) == 130
    first = (tmp_path / "log1.txt").read_text()
    stopped = read_metrics(run)[-1]["step"]
    assert re.search(r"^train: \d+/90 \(\d+%\) stage", first, re.M), first[-2000:]  # plain progress in a log
    command = _command_in(first)
    assert command == ["sigmascene", "train", "runs/r2"]
    with open(tmp_path / "log2.txt", "wb") as log:
        p = subprocess.Popen(CLI + command[1:], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        assert p.wait(timeout=240) == 0, (tmp_path / "log2.txt").read_text()[-3000:]
    second = (tmp_path / "log2.txt").read_text()
    assert f"resuming from step-{stopped:08d}: step {stopped}" in second
    steps = [m["step"] for m in read_metrics(run)]
    assert steps == list(range(1, 91))  # the counter went on from where it stopped; nothing trained twice
    assert not (run / "runs").exists() and (run / "lora.safetensors").is_file()


def test_a_checkpoint_from_before_absolute_run_configs_still_resumes(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from sigmascene.train import checkpoints as ck
    from sigmascene.train.loop import resume_point

    cfg = load_config(write_config(tmp_path / "cfg.toml", tiny_config("runs/r", "ds")))
    assert cfg.legacy_config_hash() != cfg.config_hash()  # relative paths as written vs resolved
    old = SimpleNamespace(path=tmp_path / "runs/r/checkpoints/step-00000004", step=4,
                          state={"config_hash": cfg.legacy_config_hash()})
    monkeypatch.setattr(ck, "latest", lambda run_dir: old)
    assert resume_point(cfg, "auto") is old
    old.state["config_hash"] = "0123456789abcdef"
    with pytest.raises(Exception, match="another configuration"):
        resume_point(cfg, "auto")
