import os
from pathlib import Path

import pytest

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from repo_paths import EXAMPLES


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    """A scratch folder where no model is configured: never the developer's own config file or SIGMASCENE_* paths,
    so "no --base" means the embedded demo model in every test that renders."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("SIGMASCENE_BASE", raising=False)
    monkeypatch.delenv("SIGMASCENE_LORA", raising=False)
    return tmp_path
