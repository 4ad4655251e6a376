"""A seed -> the torch generator it stands for, written once for every sampling path of the model."""

from __future__ import annotations

import torch


def seed_generator(seed: int) -> torch.Generator:
    """The CPU generator a seed stands for: the same noise on every device, as diffusers' examples seed it."""
    return torch.Generator("cpu").manual_seed(int(seed))
