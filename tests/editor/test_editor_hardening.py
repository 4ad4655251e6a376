"""Issue 30's editor items, one test each (named `test_item_NN_...`): no write outside the folder, no token off
the page, no user byte lost or changed, no 500. The render items use the embedded demo model (1 step)."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.testclient import TestClient

from sigmascene.editor import create_app
from sigmascene.editor import render_job
from sigmascene.editor.security import browser_file, cookie_name, same_token
from editor_support import copy_living_room

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOKEN = "secret-token"
H = {"X-Sigmascene-Token": TOKEN}


@pytest.fixture
def room(tmp_path: Path) -> Path:
    folder = tmp_path / "scene"
    scene = copy_living_room(folder)
    (tmp_path / "outside").mkdir()
    return scene


@pytest.fixture
def client(room: Path) -> TestClient:
    return TestClient(create_app(room, TOKEN, extra_hosts={"testserver"}))


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    folder = tmp_path / "scene"
    folder.mkdir()
    shutil.copy(EXAMPLES / "toy_room.sigma", folder / "toy_room.sigma")
    shutil.copytree(EXAMPLES / "toy", folder / "toy")
    (tmp_path / "outside").mkdir()
    return folder / "toy_room.sigma"


def render(client: TestClient, body: dict | None = None, on=None) -> list[dict]:
    out = []
    with client.stream("POST", "/api/render", headers=H, json=body or {"steps": 1}) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            out.append(json.loads(line))
            if on:
                on(out[-1])
    return out


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- security -------------------------------------------------------------------------------------------------
def test_item_01_render_refuses_a_renders_link_leading_out_of_the_folder(toy):
    outside = toy.parent.parent / "outside"
    os.symlink(outside, toy.parent / "renders")
    c = TestClient(create_app(toy, TOKEN, extra_hosts={"testserver"}))
    r = c.post("/api/render", headers=H, json={"steps": 1})  # refused before rendering
    assert r.status_code == 403 and "renders" in r.json()["error"]
    assert listing(outside) == []
    # and if the link appears while the model renders, the write is refused all the same
    os.unlink(toy.parent / "renders")

    def on(ev):
        if ev["event"] == "started":  # the check before rendering made a real folder: swap it for a link
            (toy.parent / "renders").rmdir()
            os.symlink(outside, toy.parent / "renders")

    evs = render(c, on=on)
    assert evs[-1]["event"] == "error" and "renders" in evs[-1]["message"], evs[-1]
    assert listing(outside) == []


def test_item_02_render_never_writes_through_a_dangling_link(toy):
    outside = toy.parent.parent / "outside"
    (toy.parent / "renders").mkdir()
    os.symlink(outside / "stolen.png", toy.parent / "renders" / "toy_room.png")
    evs = render(TestClient(create_app(toy, TOKEN, extra_hosts={"testserver"})))
    assert evs[-1]["event"] == "done" and evs[-1]["file"] == "renders/toy_room-1.png"
    assert listing(outside) == [] and os.path.islink(toy.parent / "renders" / "toy_room.png")


def test_item_03_a_mask_move_never_writes_through_a_dangling_link(client, room):
    outside = room.parent.parent / "outside"
    os.symlink(outside / "stolen.png", room.parent / "masks" / "lamp-edit.png")
    r = client.patch("/api/subjects/lamp", headers=H, json={"mask_transform": {"dx": 0.01, "dy": 0, "scale": 1}})
    assert r.status_code == 200, r.text
    assert listing(outside) == []
    assert 'mask "masks/lamp-edit-1.png"' in r.json()["source"]
    assert (room.parent / "masks" / "lamp-edit-1.png").read_bytes()[:4] == b"\x89PNG"


def test_item_04_cookie_name_is_unique_per_port(room):
    a = TestClient(create_app(room, TOKEN, port=8765, extra_hosts={"testserver"}))
    r = a.get(f"/?token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["set-cookie"].startswith(f"{cookie_name(8765)}=")
    assert cookie_name(8765) != cookie_name(8766) and "8765" in cookie_name(8765)
    # the old shared name no longer opens anything; the port's name does
    other = TestClient(create_app(room, TOKEN, port=8765, extra_hosts={"testserver"}))
    assert other.get("/api/scene", headers={"Cookie": f"sigmascene_token={TOKEN}"}).status_code == 403
    assert other.get("/api/scene", headers={"Cookie": f"{cookie_name(8765)}={TOKEN}"}).status_code == 200


def test_item_05_the_browser_opens_a_user_only_file_not_a_url_with_the_token(tmp_path, monkeypatch):
    url = "http://127.0.0.1:8765/?token=abc&x=<y>"
    page = browser_file(url)
    assert oct(page.stat().st_mode & 0o777) == "0o600" and oct(page.parent.stat().st_mode & 0o777) == "0o700"
    text = page.read_text()
    assert json.dumps(url) in text and "abc" not in page.as_uri()
    # and `sigmascene edit` hands the browser that file's URI, never the token URL
    from typer.testing import CliRunner

    from sigmascene.cli import app

    opened: list[str] = []

    async def serve(self, sockets=None) -> None:  # the server itself is not what this test is about
        return None

    monkeypatch.setattr("webbrowser.open", lambda u: opened.append(u))
    monkeypatch.setattr("uvicorn.Server.serve", serve)
    shutil.copy(EXAMPLES / "toy_room.sigma", tmp_path / "t.sigma")
    r = CliRunner().invoke(app, ["edit", str(tmp_path / "t.sigma"), "--port", "0"])
    assert r.exit_code == 0, r.output
    deadline = time.time() + 10  # the browser is opened from a thread, once the socket listens
    while not opened and time.time() < deadline:
        time.sleep(0.02)
    assert len(opened) == 1 and opened[0].startswith("file://") and "token" not in opened[0]


def test_item_06_a_body_over_the_limit_is_refused_before_it_is_read(room):
    import asyncio

    from sigmascene.editor.schemas import MAX_JSON_BODY

    app = create_app(room, TOKEN, extra_hosts={"testserver"})

    def call(headers: list[tuple[bytes, bytes]], n_chunks: int) -> tuple[int, int]:
        """Send `n_chunks` MB to PUT /api/scene straight through ASGI; (status, chunks the app consumed)."""
        consumed, status = [0], [0]

        async def receive():
            consumed[0] += 1
            return {"type": "http.request", "body": b" " * (1 << 20), "more_body": consumed[0] < n_chunks}

        async def send(msg):
            if msg["type"] == "http.response.start":
                status[0] = msg["status"]

        scope = {"type": "http", "method": "PUT", "path": "/api/scene", "raw_path": b"/api/scene",
                 "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
                 "server": ("127.0.0.1", 8765), "client": ("127.0.0.1", 5000),
                 "headers": [(b"host", b"testserver"), (b"x-sigmascene-token", TOKEN.encode())] + headers}
        asyncio.run(app(scope, receive, send))
        return status[0], consumed[0]

    # a declared length over the limit: 413 before a byte is read (200 MB would have cost 600 MB)
    assert call([(b"content-length", str(200 * 2**20).encode())], 200) == (413, 0)
    # no declared length (chunked): reading stops at the limit, not at the end of the body
    status, consumed = call([], 200)
    assert status == 413 and consumed <= MAX_JSON_BODY // (1 << 20) + 2
    r = TestClient(app).post("/api/files?name=refs/x.png", headers={**H, "Content-Length": "abc"}, content=b"x")
    assert r.status_code == 400


# -- data loss ------------------------------------------------------------------------------------------------
def test_item_07_render_never_overwrites_a_users_sidecar(toy):
    (toy.parent / "renders").mkdir()
    mine = toy.parent / "renders" / "toy_room.json"
    mine.write_text('{"mine": true}\n')
    evs = render(TestClient(create_app(toy, TOKEN, extra_hosts={"testserver"})))
    assert evs[-1]["event"] == "done" and evs[-1]["file"] == "renders/toy_room-1.png"
    assert mine.read_text() == '{"mine": true}\n'
    side = json.loads((toy.parent / "renders" / "toy_room-1.json").read_text())
    assert side["image"] == "toy_room-1.png"


# -- silently wrong -------------------------------------------------------------------------------------------
def crlf_room(room: Path, bom: bool = False) -> bytes:
    raw = (b"\xef\xbb\xbf" if bom else b"") + room.read_bytes().replace(b"\n", b"\r\n")
    room.write_bytes(raw)
    return raw


@pytest.mark.parametrize("bom", [False, True])
def test_item_08_save_keeps_crlf_and_bom_and_undo_to_start_is_byte_identical(room, bom):
    raw = crlf_room(room, bom)
    c = TestClient(create_app(room, TOKEN, extra_hosts={"testserver"}))
    st = c.get("/api/scene", headers=H).json()
    assert "\r" not in st["source"] and st["diagnostics"] == []
    r = c.patch("/api/subjects/armchair", headers=H, json={"caption": "a red armchair"})
    assert r.status_code == 200
    assert c.post("/api/save", headers=H).status_code == 200
    saved = room.read_bytes()
    assert saved.startswith(b"\xef\xbb\xbf") == bom and b"a red armchair" in saved
    assert saved.count(b"\r\n") == saved.count(b"\n")  # every line end is CRLF still
    while c.get("/api/status", headers=H).json()["can_undo"]:
        c.post("/api/undo", headers=H)
    assert c.post("/api/save", headers=H).status_code == 200
    assert room.read_bytes() == raw


def test_item_09_reload_then_save_on_a_crlf_file_is_not_an_external_change(room):
    crlf_room(room)
    c = TestClient(create_app(room, TOKEN, extra_hosts={"testserver"}))
    room.write_bytes(room.read_bytes().replace(b"a worn leather armchair", b"an armchair"))  # another program
    assert c.post("/api/reload", headers=H).status_code == 200
    assert c.get("/api/status", headers=H).json()["external_change"] is False
    c.patch("/api/subjects/armchair", headers=H, json={"caption": "a green armchair"})
    r = c.post("/api/save", headers=H)
    assert r.status_code == 200, r.text
    assert b"a green armchair" in room.read_bytes() and b"\r\n" in room.read_bytes()


def test_item_10_a_lone_cr_in_a_comment_reads_as_the_grammar_reads_it(room):
    from sigmascene.grammar import parse_file

    raw = room.read_bytes().replace(b"# non-zero = subject", b"# non-zero\rsubject = the lamp")
    room.write_bytes(raw)
    parse_file(room)  # `check` accepts it: the \r is inside the comment
    c = TestClient(create_app(room, TOKEN, extra_hosts={"testserver"}))
    st = c.get("/api/scene", headers=H).json()
    assert st["diagnostics"] == [] and st["scene"] is not None
    assert c.post("/api/save", headers=H).status_code == 200
    assert room.read_bytes() == raw
    c.patch("/api/subjects/armchair", headers=H, json={"caption": "x"})
    c.post("/api/save", headers=H)
    assert b"# non-zero\rsubject = the lamp" in room.read_bytes()


def test_item_11_a_wildcard_bind_accepts_this_machines_addresses_and_allow_host(room):
    from sigmascene.editor.security import interface_addresses

    app = create_app(room, TOKEN, host="0.0.0.0", port=9000, extra_hosts={"editor.lan"})
    # the address the connection arrived on (what another machine types) is accepted ...
    lan = TestClient(app, base_url="http://192.168.7.20:9000")
    lan_scope_app = _with_server(app, ("192.168.7.20", 9000))
    assert TestClient(lan_scope_app, base_url="http://192.168.7.20:9000").get(
        "/api/scene", headers=H).status_code == 200
    # ... the interface addresses and --allow-host names are accepted, other names still refused
    for addr in list(interface_addresses())[:3]:
        shown = f"[{addr}]" if ":" in addr else addr
        assert lan.get("/api/scene", headers={**H, "Host": f"{shown}:9000"}).status_code == 200, addr
    assert lan.get("/api/scene", headers={**H, "Host": "editor.lan:9000"}).status_code == 200
    # the page's own writes from another machine carry its Origin: the same address, accepted
    lan_client = TestClient(lan_scope_app, base_url="http://192.168.7.20:9000")
    assert lan_client.post("/api/undo", headers={**H, "Origin": "http://192.168.7.20:9000"}).status_code == 200
    assert lan_client.post("/api/undo", headers={**H, "Origin": "http://evil.example"}).status_code == 403
    assert lan.get("/api/scene", headers={**H, "Host": "evil.example:9000"}).status_code == 403
    assert lan.get("/api/scene", headers={**H, "Host": "192.168.7.21:9000"}).status_code == 403
    # a loopback-only server does not take the connection's address as a name
    local = _with_server(create_app(room, TOKEN, port=9000), ("192.168.7.20", 9000))
    assert TestClient(local, base_url="http://192.168.7.20:9000").get("/api/scene", headers=H).status_code == 403
    assert socket.gethostname()


def _with_server(app, server):
    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            scope = dict(scope, server=server)
        await app(scope, receive, send)
    return wrapped


def test_item_12_a_second_editor_does_not_log_out_the_first(room, tmp_path):
    other = tmp_path / "other.sigma"
    shutil.copy(EXAMPLES / "toy_room.sigma", other)
    first = TestClient(create_app(room, "token-one", port=8765, extra_hosts={"testserver"}))
    second = TestClient(create_app(other, "token-two", port=8766, extra_hosts={"testserver"}))
    first.get("/?token=token-one")
    second.get("/?token=token-two")
    jar = {**dict(first.cookies), **dict(second.cookies)}  # one browser: both cookies, same host
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    assert len(jar) == 2
    assert first.post("/api/save", headers={"Cookie": cookie}).status_code == 200
    assert second.get("/api/scene", headers={"Cookie": cookie}).status_code == 200


# -- 500s -----------------------------------------------------------------------------------------------------
def test_item_15_a_second_render_while_one_runs_is_refused_and_later_renders_work(toy):
    c = TestClient(create_app(toy, TOKEN, extra_hosts={"testserver"}))
    seen: list[int] = []

    def on(ev):
        if ev["event"] == "progress" and not seen:
            r = c.post("/api/render", headers=H, json={"steps": 1})
            seen.append(r.status_code)
            assert "already running" in r.json()["error"]

    evs = render(c, {"steps": 2}, on=on)
    assert seen == [409] and evs[-1]["event"] == "done"
    assert render(c)[-1]["event"] == "done"  # the server is not poisoned
    assert not render_job.RENDER_LOCK.locked()


@pytest.mark.parametrize("method,path,body,field", [
    ("PATCH", "/api/subjects/armchair", {"placement": {"x0": "abc"}}, "placement.x0"),
    ("PATCH", "/api/scene", {"camera": {"position": 5}}, "camera.position"),
    ("PATCH", "/api/scene", {"params": ["p"]}, "params"),
    ("PATCH", "/api/subjects/armchair", {"mask_transform": {"origin": "x"}}, "mask_transform.origin"),
    ("PATCH", "/api/subjects/lamp", {"mask_transform": {"origin": [1e308, 5]}}, "origin"),
    ("POST", "/api/subjects/armchair/reorder", {"index": "NaN"}, "index"),
    ("POST", "/api/render", [1], "JSON object"),
    ("PUT", "/api/scene", {"source": 5}, "source"),
    ("POST", "/api/save", {"force": "yes please"}, "force"),
])
def test_item_16_wrong_json_types_answer_400_naming_the_field(client, method, path, body, field):
    r = client.request(method, path, headers=H, json=body)
    assert r.status_code == 400 and field in r.json()["error"], r.text


def test_item_16_non_standard_json_numbers_answer_400(client):
    for raw in (b'{"canvas":{"width":Infinity}}', b'{"canvas":{"width":NaN}}', b'{"canvas":{"width":1e999}}'):
        r = client.patch("/api/scene", headers={**H, "Content-Type": "application/json"}, content=raw)
        assert r.status_code == 400 and "canvas.width" in r.json()["error"], raw
    for raw in (b'{"placement":{"x0":NaN}}', b'{"placement":{"x0":-Infinity}}', b'{"depth":Infinity}'):
        r = client.patch("/api/subjects/armchair", headers={**H, "Content-Type": "application/json"}, content=raw)
        assert r.status_code == 400 and ("x0" in r.json()["error"] or "depth" in r.json()["error"]), raw
    r = client.patch("/api/scene", headers=H, json={"canvas": {"width": 10**400}})
    assert r.status_code == 400 and "canvas.width" in r.json()["error"]
    r = client.patch("/api/subjects/armchair", headers=H, json={"placement": {"x0": 10**400}})
    assert r.status_code == 400 and "placement.x0" in r.json()["error"]


def test_item_17_deeply_nested_json_answers_400(client):
    for raw in (b"[" * 100_000, b'{"a":' * 50_000, b"[" * 40 + b"]" * 40):
        r = client.patch("/api/scene", headers={**H, "Content-Type": "application/json"}, content=raw)
        assert r.status_code == 400 and ("deeper" in r.json()["error"] or "not JSON" in r.json()["error"])


def test_item_18_a_non_ascii_token_is_refused_not_a_crash(client):
    assert client.get("/api/scene", headers={"X-Sigmascene-Token": "tök€n".encode()}).status_code == 403
    assert client.get("/api/scene", headers={"Cookie": f"{cookie_name(8765)}=tök".encode()}).status_code == 403
    assert client.get("/?token=t%C3%B6k%E2%82%AC", follow_redirects=False).status_code == 403
    assert client.get("/?token=%FF%FE", follow_redirects=False).status_code == 403
    assert same_token(TOKEN, TOKEN) and not same_token("é", TOKEN) and not same_token(None, TOKEN)


def test_item_19_a_decompression_bomb_upload_answers_400(client, room):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buf, format="PNG")
    r = client.post("/api/files?name=refs/bomb.png", headers=H, content=buf.getvalue())
    assert r.status_code == 400 and "megapixel" in r.json()["error"]
    assert not any(p.name.startswith("bomb") for p in (room.parent / "refs").iterdir())


def test_item_20_reload_of_a_deleted_file_answers_400(client, room):
    room.unlink()
    r = client.post("/api/reload", headers=H)
    assert r.status_code == 400 and "no longer exists" in r.json()["error"]
    assert client.post("/api/save", headers={**H}, json={"force": True}).status_code == 200 and room.exists()


def test_item_21_reload_of_a_non_utf8_file_answers_400_and_keeps_the_text(client, room):
    before = client.get("/api/scene", headers=H).json()["source"]
    room.write_bytes(b"sigma 1\n\xff\xfe nonsense\n")
    r = client.post("/api/reload", headers=H)
    assert r.status_code == 400 and "not UTF-8" in r.json()["error"]
    assert client.get("/api/scene", headers=H).json()["source"] == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions")
def test_item_22_save_in_a_read_only_folder_answers_400_and_keeps_the_file(client, room):
    raw = room.read_bytes()
    client.patch("/api/subjects/armchair", headers=H, json={"caption": "changed"})
    room.parent.chmod(0o555)
    try:
        r = client.post("/api/save", headers=H)
    finally:
        room.parent.chmod(0o755)
    assert r.status_code == 400 and "cannot save" in r.json()["error"]
    assert room.read_bytes() == raw


def test_item_22_save_on_a_full_or_read_only_filesystem_answers_with_the_reason(client, room, monkeypatch):
    from sigmascene.editor import document

    raw = room.read_bytes()
    client.patch("/api/subjects/armchair", headers=H, json={"caption": "changed"})
    for code, status, words in ((errno.ENOSPC, 507, "disk is full"), (errno.EROFS, 400, "Read-only")):
        def boom(*_a, _code=code, **_k):
            raise OSError(_code, os.strerror(_code))
        monkeypatch.setattr(document.os, "fsync", boom)
        r = client.post("/api/save", headers=H)
        assert r.status_code == status and words in r.json()["error"], r.text
        assert room.read_bytes() == raw
        assert not [p for p in room.parent.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    assert client.post("/api/save", headers=H).status_code == 200


def test_item_23_an_upload_on_a_full_disk_answers_507_and_leaves_nothing(client, room, monkeypatch):
    from sigmascene.core import files as core_files

    real = os.fdopen

    class Full(io.RawIOBase):
        def __init__(self, fd):
            self.fh = real(fd, "wb")

        def write(self, b):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self):
            self.fh.close()

    monkeypatch.setattr(core_files.os, "fdopen", lambda fd, mode="r": Full(fd))
    before = listing(room.parent / "refs")
    r = client.post("/api/files?name=refs/new.png", headers=H, content=(EXAMPLES / "refs" / "corgi.png").read_bytes())
    assert r.status_code == 507 and "disk is full" in r.json()["error"]
    assert listing(room.parent / "refs") == before


def test_item_24_file_path_os_errors_answer_4xx(client, room):
    png = (EXAMPLES / "refs" / "corgi.png").read_bytes()
    (room.parent / "afile").write_text("x")
    r = client.post("/api/files?name=afile/x.png", headers=H, content=png)
    assert r.status_code == 400 and "afile" in r.json()["error"]
    r = client.post(f"/api/files?name=refs/{'a' * 300}.png", headers=H, content=png)
    assert r.status_code == 200 and len(Path(r.json()["path"]).name) < 255
    r = client.post(f"/api/files?name={'d' * 300}/x.png", headers=H, content=png)
    assert r.status_code == 400
    r = client.get(f"/api/files/{'e' * 300}.png", headers=H)
    assert r.status_code in (400, 404)


def test_concurrent_saves_and_edits_never_answer_500(client):
    errors: list[int] = []

    def worker(i):
        for k in range(5):
            r = client.patch("/api/subjects/armchair", headers=H, json={"caption": f"c{i}-{k}"})
            errors.append(r.status_code)
            errors.append(client.post("/api/save", headers=H, json={"force": True}).status_code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s < 500 for s in errors)
