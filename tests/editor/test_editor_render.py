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

from editor_support import TOKEN, H

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


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
def test_render_streams_progress_and_writes_image_and_sidecar(toy, client_for):
    pytest.importorskip("diffusers")
    c = client_for(toy)
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
def test_cancel_stops_a_render_without_an_image(toy, client_for):
    pytest.importorskip("diffusers")
    c = client_for(toy)

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


@pytest.mark.slow
def test_a_render_from_the_editor_saves_first_and_its_sidecar_command_renders_the_same_picture(toy):
    pytest.importorskip("diffusers")
    import numpy as np
    import shlex
    from PIL import Image

    c = TestClient(create_app(toy, TOKEN, extra_hosts={"testserver"}))
    before = toy.read_text()
    r = c.put("/api/scene", headers=H, json={"source": before.replace("seed 3", "seed 5")})
    assert r.status_code == 200 and r.json()["dirty"]
    evs = events(c, {"steps": 1})
    done = evs[-1]
    assert done["event"] == "done", evs
    assert "seed 5" in toy.read_text() and not c.get("/api/status", headers=H).json()["dirty"]  # saved first
    side = json.loads((toy.parent / "renders" / "toy_room.json").read_text())
    assert side["scene"]["file"] == str(toy) and side == done["sidecar"]
    argv = shlex.split(side["command"])
    assert argv[:3] == ["sigmascene", "render", str(toy)] and "SCENE.sigma" not in side["command"]
    out = toy.parent / "again.png"
    argv[argv.index("-o") + 1] = str(out)
    r = CliRunner().invoke(app, argv[1:])
    assert r.exit_code == 0, r.output
    first = np.asarray(Image.open(toy.parent / "renders" / "toy_room.png"))
    assert np.array_equal(first, np.asarray(Image.open(out)))


def test_library_output_during_a_render_goes_to_the_page_not_the_terminal(capfd):
    import logging
    import sys
    import threading
    import warnings

    from sigmascene.editor.quiet import to_page

    got: list[tuple[str, bool]] = []
    lora_log = logging.getLogger("peft.tuners.test_quiet")  # a library logger, whatever verbosity another test set
    lora_log.setLevel(logging.WARNING)

    def render_thread() -> None:
        with to_page(lambda text, redraw: got.append((text, redraw))):
            lora_log.warning("No LoRA keys associated to CLIPTextModel found")
            warnings.warn("a library warning", UserWarning, stacklevel=1)
            sys.stderr.write("\r 50%|#####     | 1/2\r100%|##########| 2/2\n")

    t = threading.Thread(target=render_thread)
    t.start()
    t.join()
    print("the server's own line", file=sys.stderr)
    err = capfd.readouterr().err
    assert "LoRA keys" not in err and "a library warning" not in err and "1/2" not in err
    assert "the server's own line" in err
    texts = [g[0] for g in got]
    assert any("No LoRA keys" in x for x in texts) and any("a library warning" in x for x in texts)
    assert (" 50%|#####     | 1/2", True) in got and ("100%|##########| 2/2", False) in got
