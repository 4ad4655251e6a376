"""Shared pieces of the trainer tests: one small synthetic dataset per session and tiny-model configs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import tomli_w

_DATASET: dict[str, Path] = {}
ROOT = Path(__file__).resolve().parents[2]

# Three stages like the paper's (<= 4, >= 3, >= 5 subjects), a few steps each.
STAGES = [{"name": "1", "steps": 4, "min_subjects": 1, "max_subjects": 4},
          {"name": "2", "steps": 4, "min_subjects": 3},
          {"name": "3", "steps": 4, "min_subjects": 5}]


def synthetic_dataset(tmp_path_factory) -> Path:
    """16 samples of 64x64 with 1-6 subjects from the data package's generator, made once per test session."""
    if "root" not in _DATASET:
        from sigmascene.data.synth import SynthConfig, synthesize

        root = tmp_path_factory.mktemp("train-data") / "ds"
        synthesize(root, 16, SynthConfig(seed=0, size=64, min_subjects=1, max_subjects=6), workers=1)
        _DATASET["root"] = root
    return _DATASET["root"]


def tiny_config(run_dir: Path, data: Path, **sections) -> dict:
    """A raw config dict: tiny model, rank-4 LoRA, short prompts, the three short stages; sections override."""
    cfg = {
        "run": {"dir": str(run_dir), "checkpoint_every": 3, "validate_every": 0, "log_every": 1, "keep_checkpoints": 2},
        "model": {"base": "tiny", "max_sequence_length": 32},
        "lora": {"rank": 4, "alpha": 4.0},
        "data": {"root": str(data)},
        "curriculum": {"stages": STAGES},
        "validation": {"samples": 2, "steps": 2},
    }
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    return cfg


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(tomli_w.dumps(cfg))
    return path


def subprocess_env(**extra: str) -> dict:
    """Environment for a trainer subprocess: one thread (tiny matrices; the machine is shared), offline."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYOPENGL_PLATFORM="egl", HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


PYTHON = sys.executable
