"""Shared fixtures of the data tests: `synth_world`, a small synthetic dataset made with the real synthesizer."""

from pathlib import Path
from typing import Callable

import pytest

from sigmascene.data.synth import SynthConfig, synthesize


@pytest.fixture(scope="module")
def synth_world(tmp_path_factory) -> Callable[..., Path]:
    """synth_world(name, count, seed=..., size=..., ...) -> a dataset folder of `count` samples (one worker)."""

    def make(name: str, count: int, config: SynthConfig | None = None, **fields) -> Path:
        root = tmp_path_factory.mktemp(name) / "ds"
        synthesize(root, count, config or SynthConfig(**fields), workers=1)
        return root

    return make
