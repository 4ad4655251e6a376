"""Two processes under `accelerate launch` (gloo on CPU): data split per rank, gradients synced, rank 0 writes."""

import json
import shutil
import subprocess

import pytest
import torch
from train_support import PYTHON, subprocess_env, synthetic_dataset, tiny_config, write_config

from sigmascene.train import checkpoints as ck
from sigmascene.train.watch import read_metrics

pytestmark = pytest.mark.slow

STAGES = [{"steps": 2, "max_subjects": 4}, {"steps": 2, "min_subjects": 3}, {"steps": 2, "min_subjects": 5}]


def test_two_cpu_processes_train_in_sync_and_rank_0_alone_writes(tmp_path, tmp_path_factory):
    data = synthetic_dataset(tmp_path_factory)
    run = tmp_path / "run"
    cfg = write_config(tmp_path / "cfg.toml", tiny_config(run, data, curriculum={"stages": STAGES},
                                                          run={"checkpoint_every": 2, "keep_checkpoints": 5}))
    launcher = shutil.which("accelerate")
    cmd = ([launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision",
            "no", "--dynamo_backend", "no", "--main_process_port", "0"] if launcher else
           [PYTHON, "-m", "torch.distributed.run", "--nproc_per_node", "2"])
    cmd += ["-m", "sigmascene.cli", "train", str(cfg), "--no-progress"]
    env = subprocess_env(CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 6 and summary["ranks_in_sync"]
    assert [m["step"] for m in read_metrics(run)] == list(range(1, 7))  # one writer, one line per step
    ckpts = ck.list_checkpoints(run)
    assert [s for s, _ in ckpts] == [2, 4, 6] and not [p for p in ck.checkpoint_root(run).iterdir()
                                                       if p.name.startswith(".")]
    last = ck.latest(run)
    rngs = last.load(ck.RNG)
    assert len(rngs) == 2 and not torch.equal(rngs[0]["torch"], rngs[1]["torch"])  # each rank's own RNG
    assert last.state["world_size"] == 2 and (run / "lora.safetensors").is_file()
