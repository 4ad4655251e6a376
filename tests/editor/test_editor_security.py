"""The editor's guard: token, Host/Origin checks, folder confinement (`..`, symlinks), upload checks."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from sigmascene.editor.security import MAX_UPLOAD, allowed_hosts

from editor_support import H, TOKEN, copy_living_room

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def room(tmp_path: Path) -> Path:
    folder = tmp_path / "scene"
    scene = copy_living_room(folder)
    (tmp_path / "secret.png").write_bytes((EXAMPLES / "refs" / "corgi.png").read_bytes())
    return scene


def test_no_token_is_refused_everywhere(client):
    for path in ("/", "/api/scene", "/api/maps", "/static/main.js", "/api/maps/layout.png"):
        r = client.get(path)
        assert r.status_code == 403 and "token" in r.json()["error"], path
    assert client.get("/api/scene", headers={"X-Sigmascene-Token": "wrong"}).status_code == 403
    assert client.post("/api/save").status_code == 403


def test_the_url_token_sets_a_cookie_that_then_works(client):
    r = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
    assert client.get("/api/scene").status_code == 200  # the client kept the cookie
    assert client.get("/").status_code == 200


def test_foreign_host_and_cross_site_origin_are_refused(client):
    assert client.get("/api/scene", headers={**H, "Host": "evil.example:8765"}).status_code == 403
    r = client.put("/api/scene", headers={**H, "Origin": "http://evil.example"}, json={"source": "x"})
    assert r.status_code == 403 and "cross-site" in r.json()["error"]
    assert client.get("/api/scene", headers={**H, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.get("/api/scene", headers={**H, "Origin": "http://testserver"}).status_code == 200
    assert allowed_hosts("127.0.0.1", 8765) == {"127.0.0.1:8765", "localhost:8765"}
    import socket

    wide = allowed_hosts("0.0.0.0", 9000)
    assert f"{socket.gethostname()}:9000" in wide and "127.0.0.1:9000" in wide and "evil.example:9000" not in wide


def test_dotdot_and_symlink_paths_are_refused(client, room):
    assert client.get("/api/files/refs/corgi.png", headers=H).status_code == 200
    r = client.get("/api/files/..%2Fsecret.png", headers=H)
    assert r.status_code == 403 and "leaves the scene's folder" in r.json()["error"]
    os.symlink(room.parent.parent / "secret.png", room.parent / "refs" / "link.png")
    r = client.get("/api/files/refs/link.png", headers=H)
    assert r.status_code == 403 and "symbolic link" in r.json()["error"]
    r = client.post("/api/files?name=../evil.png", headers=H, content=(EXAMPLES / "refs" / "corgi.png").read_bytes())
    assert r.status_code == 403 and not (room.parent.parent / "evil.png").exists()
    r = client.patch("/api/subjects/armchair", headers=H, json={"ref": "../secret.png"})
    assert r.status_code == 403


def test_a_scene_naming_files_outside_its_folder_is_not_read(client, room):
    text = room.read_text().replace('ref "refs/lamp.png"', 'ref "../secret.png"')
    st = client.put("/api/scene", headers=H, json={"source": text}).json()
    (d,) = st["diagnostics"]  # the grammar's own confinement (root=), located at the path, with the editor's remedy
    assert st["scene"] is None and "ref ../secret.png is outside the allowed folder" in d["message"]
    assert (d["line"], d["column"]) == (text[:text.index('"../secret.png"')].count("\n") + 1,
                                        len(text[:text.index('"../secret.png"')].rsplit("\n", 1)[-1]) + 1)
    assert "drop it on the inspector" in d["hint"]
    text = room.read_text().replace('include "furniture.sigma"', 'include "../../etc/passwd"')
    st = client.put("/api/scene", headers=H, json={"source": text}).json()
    assert st["scene"] is None and "include ../../etc/passwd is outside the allowed folder" in \
        st["diagnostics"][0]["message"]
    assert "root:" not in str(st["diagnostics"])


def test_the_editor_refuses_a_symlink_out_of_its_folder_in_the_scene_text(client, room):
    os.symlink(room.parent.parent / "secret.png", room.parent / "refs" / "away.png")
    text = room.read_text().replace('ref "refs/lamp.png"', 'ref "refs/away.png"')
    st = client.put("/api/scene", headers=H, json={"source": text}).json()
    assert st["scene"] is None and "refs/away.png (really" in st["diagnostics"][0]["message"]


def test_a_dropped_reference_is_checked_and_copied_without_overwriting(client, room):
    data = (EXAMPLES / "refs" / "vase.png").read_bytes()
    r = client.post("/api/files?name=refs/corgi.png", headers=H, content=data)
    assert r.status_code == 200 and r.json()["path"] == "refs/corgi-1.png"
    assert (room.parent / "refs" / "corgi-1.png").read_bytes() == data
    assert (room.parent / "refs" / "corgi.png").read_bytes() == (EXAMPLES / "refs" / "corgi.png").read_bytes()
    r = client.post("/api/files?name=refs/bad.png", headers=H, content=b"not an image at all")
    assert r.status_code == 400 and "does not decode" in r.json()["error"]
    r = client.post("/api/files?name=notes.txt", headers=H, content=b"hello")
    assert r.status_code == 400
    big = io.BytesIO(b"\0" * (MAX_UPLOAD + 1))
    r = client.post("/api/files?name=refs/big.png", headers=H, content=big.getvalue())
    assert r.status_code == 413 and "limit" in r.json()["error"]  # refused on its Content-Length, unread
    mesh = (EXAMPLES / "meshes" / "vase.obj").read_bytes()
    assert client.post("/api/files?name=meshes/v2.obj", headers=H, content=mesh).json()["kind"] == "mesh"
