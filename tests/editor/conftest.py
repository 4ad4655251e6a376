"""Shared fixtures of the editor tests: an in-process client for any scene file (`client_for`), and `client`
for the test module's own `room` fixture (each module lays out the folder it needs)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from editor_support import TOKEN


@pytest.fixture
def client_for() -> Callable[[Path], object]:
    """Make a Starlette TestClient of the editor app for a scene file, with the tests' token."""
    pytest.importorskip("starlette")
    pytest.importorskip("httpx")
    from starlette.testclient import TestClient

    from sigmascene.editor import create_app

    return lambda scene: TestClient(create_app(scene, TOKEN, extra_hosts={"testserver"}))


@pytest.fixture
def client(room: Path, client_for):
    return client_for(room)


@pytest.fixture(scope="module")
def browser():
    """One headless chromium per test module (Debian's, launched as root needs --no-sandbox)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    from editor_support import CHROMIUM

    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()
