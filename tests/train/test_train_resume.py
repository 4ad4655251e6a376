"""kill -9 at any moment, even inside a checkpoint save: no corrupt checkpoint is ever picked, and the resumed run
continues at the right step and stage, repeating exactly what an uninterrupted run does."""

import random
import signal
import subprocess
import time

import numpy as np
import pytest
import torch
from train_support import PYTHON, STAGES, subprocess_env, synthetic_dataset, tiny_config, write_config

from sigmascene.model.lora import read_sigma_lora
from sigmascene.train import checkpoints as ck
from sigmascene.train.config_file import validate_config
from sigmascene.train.curriculum import Curriculum, Stage
from sigmascene.train.loop import train
from sigmascene.train.watch import read_metrics

pytestmark = pytest.mark.slow


def _start(cfg_path, log, **env):
    return subprocess.Popen([PYTHON, "-m", "sigmascene.cli", "train", str(cfg_path), "--no-progress"], stdout=log,
                            stderr=subprocess.STDOUT, env=subprocess_env(**env))


def _wait_for(pred, proc, timeout=90.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    raise AssertionError("timed out waiting for the trainer")


def _kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _saving(run):
    root = ck.checkpoint_root(run)
    return root.is_dir() and any(p.name.startswith(".step-") for p in root.iterdir())


def _assert_no_corrupt(run):
    for _, path in ck.list_checkpoints(run):  # every visible checkpoint verifies; half-written ones stay hidden
        assert ck.verify(path) is not None, path


def test_kill_9_anywhere_then_resume_matches_the_uninterrupted_run(tmp_path, tmp_path_factory):
    data = synthetic_dataset(tmp_path_factory)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ref = train(validate_config(tiny_config(tmp_path / "ref", data)), resume="never", progress=False)
    finally:
        torch.set_num_threads(n)
    run = tmp_path / "run"
    cfg_path = write_config(tmp_path / "cfg.toml", tiny_config(run, data))
    log_path = tmp_path / "log.txt"
    rnd = random.Random(7)
    with open(log_path, "ab") as log:
        # 1. Killed inside the very first save: nothing to resume from, nothing corrupt.
        p = _start(cfg_path, log, SIGMASCENE_TRAIN_SAVE_SLEEP="2")
        assert _wait_for(lambda: _saving(run), p)
        _kill(p)
        assert _saving(run) and ck.latest(run) is None
        # 2. Killed at a random moment after some progress.
        p = _start(cfg_path, log, SIGMASCENE_TRAIN_SAVE_SLEEP="0.2")
        assert _wait_for(lambda: ck.latest(run) is not None and ck.latest(run).step >= 4, p)
        time.sleep(rnd.uniform(0.0, 0.5))
        _kill(p)
        _assert_no_corrupt(run)
        # 3. Killed inside a later save: the previous checkpoint stays the newest good one.
        before = ck.latest(run)
        p = _start(cfg_path, log, SIGMASCENE_TRAIN_SAVE_SLEEP="2")
        assert _wait_for(lambda: _saving(run), p)
        _kill(p)
        _assert_no_corrupt(run)
        assert ck.latest(run).step >= before.step and _saving(run)
        resumed_at = ck.latest(run)
        # 4. Run to the end.
        p = _start(cfg_path, log)
        assert p.wait(timeout=120) == 0, log_path.read_text()[-3000:]
    out = log_path.read_text()
    curriculum = Curriculum([Stage(**s) for s in STAGES])
    assert f"resuming from {resumed_at.path.name}: step {resumed_at.step}, " \
           f"{curriculum.label(curriculum.stage_index(resumed_at.step))}" in out
    assert resumed_at.state["stage"] == curriculum.stage_index(resumed_at.step - 1)
    assert not _saving(run)  # the finished run swept what the killed saves left
    lines = read_metrics(run)
    assert {m["step"] for m in lines} == set(range(1, 13))
    for m in lines:  # every step ever logged, by any of the sessions, is the uninterrupted run's step
        assert m["loss"] == pytest.approx(ref.losses[m["step"] - 1], rel=1e-4, abs=1e-6), m
        assert m["stage"] == curriculum.stage_index(m["step"] - 1) + 1
    a, _ = read_sigma_lora(run / "lora.safetensors")
    b, _ = read_sigma_lora(ref.lora)
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert [s for s, _ in ck.list_checkpoints(run)] == [9, 12]  # keep_checkpoints = 2
    assert np.isfinite([m["loss"] for m in lines]).all()


def test_sigterm_finishes_the_step_saves_and_exits_130(tmp_path, tmp_path_factory):
    data = synthetic_dataset(tmp_path_factory)
    run = tmp_path / "run"
    long = [dict(s, steps=40) for s in STAGES]  # long enough that the signal lands well before the end
    cfg_path = write_config(tmp_path / "cfg.toml", tiny_config(run, data, run={"checkpoint_every": 1000},
                                                               curriculum={"stages": long}))
    with open(tmp_path / "log.txt", "ab") as log:
        p = _start(cfg_path, log)
        assert _wait_for(lambda: len(read_metrics(run)) >= 2, p)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=60) == 130
    last = read_metrics(run)[-1]["step"]
    assert last < 120 and ck.latest(run).step == last  # nothing done after the signal is lost
    assert f"continue with: sigmascene train {run}" in (tmp_path / "log.txt").read_text()
