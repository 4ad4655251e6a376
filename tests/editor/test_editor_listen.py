"""`sigmascene edit` listens before it prints its URL: a script that connects the moment it reads the line is
answered, never refused, and a brand-new scene saved through the API passes `check`."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("uvicorn")


def test_the_printed_url_answers_the_instant_it_is_printed(tmp_path: Path):
    scene = tmp_path / "brand_new.sigma"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "sigmascene.cli", "edit", str(scene), "--no-browser", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        url = None
        deadline = time.time() + 120
        while url is None and time.time() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]  # started with stdout=PIPE
            if not line:
                break
            m = re.search(r"(http://127\.0\.0\.1:(\d+)/\?token=([\w-]+))", line)
            if m:
                url, port, token = m.group(1), int(m.group(2)), m.group(3)
        assert url is not None, "no URL printed"
        # the very first connection attempt, right after the line arrived, must be accepted
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        h = {"X-Sigmascene-Token": token}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=h, timeout=120) as c:
            assert c.get("/api/status").status_code == 200
            maps = c.get("/api/maps").json()
            assert "order" in maps and not maps.get("error"), maps  # the template compiles as it stands
            assert c.post("/api/save").status_code == 200
            assert "contextgen" in str(c.get("/api/methods").json())  # imports every method's diffusers classes
        assert scene.is_file() and (tmp_path / "refs" / "subject.png").is_file()
        check = subprocess.run([sys.executable, "-m", "sigmascene.cli", "check", str(scene)], capture_output=True,
                               text=True, env=env, timeout=300)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=30)[0]
    assert "[transformers]" not in rest and "requires torchvision" not in rest, rest  # the terminal stays quiet
