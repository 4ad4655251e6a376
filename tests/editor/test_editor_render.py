"""The Render button's API: the library render call with the demo model, progress streamed, cancel honoured;
and the `sigmascene edit` command's own checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.testclient import TestClient

from sigmascene.cli import app
from sigmascene.editor import create_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOKEN = "t"
H = {"X-Sigmascene-Token": TOKEN}


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "toy_room.sigma", tmp_path / "toy_room.sigma")
    shutil.copytree(EXAMPLES / "toy", tmp_path / "toy")
    return tmp_path / "toy_room.sigma"


def events(client: TestClient, body: dict, on=None) -> list[dict]:
    out = []
    with client.stream("POST", "/api/render", headers=H, json=body) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            ev = json.loads(line)
            out.append(ev)
            if on:
                on(ev)
    return out


@pytest.mark.slow
def test_render_streams_progress_and_writes_image_and_sidecar(toy):
    pytest.importorskip("diffusers")
    c = TestClient(create_app(toy, TOKEN, extra_hosts={"testserver"}))
    evs = events(c, {"steps": 2})
    kinds = [e["event"] for e in evs]
    assert kinds[0] == "started" and kinds[-1] == "done", evs
    assert [e["step"] for e in evs if e["event"] == "progress"] == [1, 2]
    done = evs[-1]
    assert done["file"] == "renders/toy_room.png" and done["sidecar"]["seed"] == 3  # the scene's seed
    assert (toy.parent / "renders" / "toy_room.json").is_file()
    img = c.get(done["image"], headers=H)
    assert img.status_code == 200 and img.content[:4] == b"\x89PNG"
    # a second render never overwrites the first
    evs = events(c, {"steps": 1})
    assert evs[-1]["file"] == "renders/toy_room-1.png"


@pytest.mark.slow
def test_cancel_stops_a_render_without_an_image(toy):
    pytest.importorskip("diffusers")
    c = TestClient(create_app(toy, TOKEN, extra_hosts={"testserver"}))

    def on(ev):
        if ev["event"] == "progress" and ev["step"] == 1:
            assert c.post(f"/api/render/{job[0]}/cancel", headers=H).json() == {"cancelled": True}

    job: list[str] = []
    evs = events(c, {"steps": 6}, on=lambda ev: job.append(ev["job"]) if ev["event"] == "started" else on(ev))
    assert evs[-1]["event"] == "cancelled"
    assert max(e["step"] for e in evs if e["event"] == "progress") < 6
    assert not (toy.parent / "renders" / "toy_room.png").exists()


def test_edit_command_refuses_a_non_sigma_file_and_documents_its_options(tmp_path):
    r = CliRunner().invoke(app, ["edit", str(tmp_path / "x.txt"), "--no-browser"])
    assert r.exit_code == 1 and "not a .sigma file" in r.output
    r = CliRunner().invoke(app, ["edit", "--help"])
    assert r.exit_code == 0 and "--no-browser" in r.output and "--host" in r.output


def test_edit_command_says_when_its_port_is_taken(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = CliRunner().invoke(app, ["edit", str(tmp_path / "x.sigma"), "--no-browser", "--port", str(port)])
    assert r.exit_code == 1 and f"cannot serve on 127.0.0.1:{port}" in r.output and "--port 0" in r.output
