"""Shared fixtures of the eval tests: `base`, a tiny random-weight Flux Kontext folder saved once per module."""

import pytest


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from sigmascene.testing.tiny_pipeline import save_tiny_pipeline

    return save_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny")
