"""The SIGMA LoRA trainer: config, samples (through the compiler), curriculum, caches, checkpoints, loop.

Importing this package is light (no torch); `train` pulls in torch, diffusers and accelerate when called.
"""

from __future__ import annotations

from typing import Any

from .config import TrainConfig
from .config_file import default_toml, load_config, write_default

__all__ = ["TrainConfig", "default_toml", "load_config", "train", "write_default"]


def train(cfg: TrainConfig, **kwargs: Any):
    """Run (or resume) training; see `sigmascene.train.loop.train`."""
    from .loop import train as _train

    return _train(cfg, **kwargs)
