"""The editor driven in Debian's headless chromium through Playwright, as a user would drive it.

Set SIGMASCENE_EDITOR_SHOTS=DIR to keep the screenshots (docs/editor.md's pictures come from this run).
"""

from __future__ import annotations

import base64
import shutil
import time
from pathlib import Path

import pytest

import playwright.sync_api  # noqa: F401 - the module's browser fixture (conftest) drives it: missing is an error
from editor_support import CHROMIUM, TOKEN, EditorServer, copy_living_room, open_page, shot
from sigmascene.grammar import load

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None,
                                 reason="Debian's chromium is not installed (scripts/setup.sh installs it)")]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def server(tmp_path: Path):
    srv = EditorServer(copy_living_room(tmp_path))
    yield srv
    srv.stop()


@pytest.fixture
def page(browser, server):
    pg, errors = open_page(browser, server)
    yield pg
    pg.close()
    assert not errors, errors


def wait_for(cond, timeout: float = 60.0):
    end = time.time() + timeout
    while time.time() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def drag(page, x0: float, y0: float, dx: float, dy: float) -> None:
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(x0 + dx * k / 10, y0 + dy * k / 10)
    page.mouse.up()


def canvas_scale(page) -> float:
    return page.locator("#overlay").bounding_box()["width"] / 1024


def settled(server: EditorServer, page) -> None:
    """The server's newest revision has reached the maps on the page."""
    rev = server.api.get("/api/status").json()["revision"]
    page.wait_for_function(f"Number(document.body.dataset.mapsRevision) >= {rev}", timeout=60_000)


def test_dragging_the_armchair_100px_moves_its_box_by_100_1024_and_changes_routing(page, server):
    before = server.api.get("/api/maps/ir_asc.png").content
    box = page.locator("[data-subject=armchair] .body").bounding_box()
    s = canvas_scale(page)
    drag(page, box["x"] + 40, box["y"] + box["height"] - 40, 100 * s, 0)
    wait_for(lambda: "box2d (0.05," not in server.api.get("/api/scene").json()["source"])
    settled(server, page)
    page.keyboard.press("Control+s")
    wait_for(lambda: not server.api.get("/api/status").json()["dirty"])
    arm = load(server.scene).subject("armchair").placement
    assert arm.x0 == pytest.approx(0.05 + 100 / 1024, abs=1.5 / 1024)
    assert arm.x1 - arm.x0 == pytest.approx(0.40, abs=1e-3) and arm.y0 == pytest.approx(0.40)
    assert server.api.get("/api/maps/ir_asc.png").content != before
    shot(page, "editor-2d-drag")


def test_dragging_a_3d_box_on_the_floor_changes_its_center(page, server):
    start = server.scene.read_text()
    page.locator("[data-subject=corgi] .body").click()
    handle = page.locator("[data-subject=corgi] [data-handle=move3d]")
    hb = handle.bounding_box()
    drag(page, hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2, -80, 30)
    wait_for(lambda: server.api.get("/api/status").json()["can_undo"])
    settled(server, page)
    shot(page, "editor-3d-drag")
    server.api.post("/api/save")
    corgi = load(server.scene).subject("corgi").placement
    assert corgi.center[0] < 0.3 - 0.1 and corgi.center[2] > 1.0  # left and nearer the camera
    assert corgi.center[1] == pytest.approx(0.25) and corgi.size == (0.8, 0.5, 0.5)
    assert "center ($rug_x," in server.scene.read_text()  # the param was changed, not replaced
    # as `git diff` would show it: only the param's number and the box's numbers changed
    changed = [(a, b) for a, b in zip(start.splitlines(), server.scene.read_text().splitlines()) if a != b]
    assert [a.split()[0] for a, _ in changed] == ["param", "box3d"]
    assert changed[0][1].endswith("# try: sigmascene preview living_room.sigma --maps --set rug_x=-0.2")


def test_reordering_in_the_list_keeps_the_order_rule(page, server):
    page.locator("#subjects li[data-name=armchair]").drag_to(page.locator("#subjects li[data-name=plant]"),
                                                            target_position={"x": 20, "y": 2})
    order = wait_for(lambda: (o := server.api.get("/api/maps").json()["order"])[1] == "armchair" and o)
    assert order[:3] == ["sofa", "armchair", "plant"]
    depths = {e["name"]: e["depth"] for e in server.api.get("/api/maps").json()["subjects"]}
    assert depths["plant"] < depths["armchair"] < depths["sofa"]
    page.wait_for_function("document.querySelector('#subjects li:nth-child(2)').dataset.name === 'armchair'")


def test_a_typo_in_the_source_pane_shows_a_located_error(page, server):
    src = page.locator("#source")
    text = src.input_value().replace('caption "a corgi"', 'captoin "a corgi"')
    src.fill(text)
    item = page.locator("#diagnostics li").first
    item.wait_for(timeout=30_000)
    assert "living_room.sigma:18:5: error" in item.inner_text() and "did you mean 'caption'" in item.inner_text()
    assert page.locator("#verror").is_visible()
    shot(page, "editor-diagnostic")
    src.fill(text.replace("captoin", "caption"))
    page.wait_for_function("document.querySelectorAll('#diagnostics li').length === 0")


def test_undo_twice_gives_the_file_back_byte_for_byte(page, server):
    start = server.scene.read_bytes()
    box = page.locator("[data-subject=armchair] .body").bounding_box()
    drag(page, box["x"] + 40, box["y"] + box["height"] - 40, 60, -30)
    wait_for(lambda: server.api.get("/api/status").json()["can_undo"])
    page.locator("[data-subject=plant] .body").click()
    page.fill("#insp-caption", "a tall plant")
    page.press("#insp-caption", "Enter")
    wait_for(lambda: 'caption "a tall plant"' in server.api.get("/api/scene").json()["source"])
    page.locator("#overlay").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    wait_for(lambda: 'caption "a tall plant"' not in server.api.get("/api/scene").json()["source"])
    page.keyboard.press("Control+z")
    wait_for(lambda: not server.api.get("/api/status").json()["can_undo"])
    page.keyboard.press("Control+s")
    wait_for(lambda: not server.api.get("/api/status").json()["dirty"])
    assert server.scene.read_bytes() == start


def test_a_dropped_reference_is_copied_into_the_folder(page, server):
    page.locator("#subjects li[data-name=armchair]").click()
    data = base64.b64encode((EXAMPLES / "refs" / "vase.png").read_bytes()).decode()
    page.evaluate("""(b64) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], "new chair.png", {type: "image/png"}));
        document.getElementById("dropzone").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
    }""", data)
    wait_for(lambda: 'ref "refs/new_chair.png"' in server.api.get("/api/scene").json()["source"])
    new_chair = server.scene.parent / "refs" / "new_chair.png"
    assert new_chair.read_bytes() == (EXAMPLES / "refs" / "vase.png").read_bytes()
    settled(server, page)
    shot(page, "editor-inspector")


def test_without_the_token_the_page_is_refused(browser, server):
    pg = browser.new_page()
    r = pg.goto(f"{server.base}/")
    assert r.status == 403 and "token" in pg.content()
    r = pg.goto(f"{server.base}/api/files/..%2F..%2Fetc%2Fpasswd")
    assert r.status == 403
    pg.close()


def test_3d_handles_polygon_points_masks_and_outside_changes(page, server):
    def line(word: str) -> str:
        return next(x.strip() for x in server.api.get("/api/scene").json()["source"].splitlines()
                    if x.strip().startswith(word))

    def handle_drag(subject: str, handle: str, dx: float, dy: float, word: str) -> str:
        before = line(word)
        hb = wait_for(lambda: page.locator(f"[data-subject={subject}] [data-handle={handle}]").bounding_box())
        drag(page, hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2, dx, dy)
        return wait_for(lambda: (now := line(word)) != before and now)

    page.locator("[data-subject=corgi] .body").click()
    assert "center ($rug_x, 0.4" in handle_drag("corgi", "raise3d", 0, -40, "box3d")
    assert "size (0.8, 0.5, 0.5)" not in handle_drag("corgi", "size3d", 40, 10, "box3d")
    assert "yaw 30 deg" not in handle_drag("corgi", "yaw3d", 40, 0, "box3d")
    assert "size (0.8, 0.5, 0.5)" not in handle_drag("corgi", "height3d", 0, -30, "box3d")
    page.locator("[data-subject=vase] .body").click()
    assert "scale 0.6 " not in handle_drag("vase", "size3d", 30, 0, "mesh")
    page.locator("[data-subject=plant] .body").click()
    box = wait_for(lambda: page.locator("[data-subject=plant] .body").bounding_box())
    page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + 6)
    added = wait_for(lambda: line("polygon").count("(") == 5 and line("polygon"))
    assert added.startswith("polygon (0.70, 0.45) (0.8") and added.endswith("(0.90, 0.45) (0.86, 0.80) (0.74, 0.80)")
    hb = wait_for(lambda: page.locator("[data-subject=plant] [data-handle=p1]").bounding_box())
    page.keyboard.down("Alt")
    page.mouse.click(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    page.keyboard.up("Alt")
    wait_for(lambda: line("polygon") == "polygon (0.70, 0.45) (0.90, 0.45) (0.86, 0.80) (0.74, 0.80)")
    mb = wait_for(lambda: page.locator("[data-subject=lamp] .body").bounding_box())
    drag(page, mb["x"] + mb["width"] / 2, mb["y"] + 20, 40, 0)
    wait_for(lambda: line("mask") == 'mask "masks/lamp-edit.png"  # non-zero = subject')
    assert (server.scene.parent / "masks" / "lamp.png").is_file()
    server.scene.write_text(server.scene.read_text() + "# changed by another program\n")
    page.locator("#banner").wait_for(state="visible", timeout=10_000)
    assert "changed on disk" in page.locator("#banner").inner_text()
    page.get_by_role("button", name="Reload from disk").click()
    wait_for(lambda: server.api.get("/api/scene").json()["source"].endswith("# changed by another program\n"))


@pytest.fixture
def new_file_page(browser, tmp_path):
    srv = EditorServer(tmp_path / "fresh.sigma")
    pg = browser.new_page(viewport={"width": 1440, "height": 1000})
    pg.goto(f"{srv.base}/?token={TOKEN}")
    yield pg, srv
    pg.close()
    srv.stop()


def test_a_new_file_starts_from_a_template_and_asks_before_leaving_unsaved(new_file_page):
    page, server = new_file_page
    page.wait_for_function("document.getElementById('filename').textContent.includes('(new)')")
    page.wait_for_selector("body[data-maps-revision]", timeout=60_000)  # the placeholder reference compiles
    assert page.locator("#diagcount").inner_text() == "ok" and page.locator("#verror").is_hidden()
    page.locator("#subjects li[data-name=subject]").click()
    data = base64.b64encode((EXAMPLES / "refs" / "corgi.png").read_bytes()).decode()
    page.evaluate("""(b64) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], "corgi.png", {type: "image/png"}));
        document.getElementById("dropzone").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
    }""", data)
    page.wait_for_function("document.body.dataset.mapsRevision >= 1", timeout=60_000)
    asked: list[str] = []
    page.on("dialog", lambda d: (asked.append(d.type), d.accept()))
    page.goto("data:text/html,elsewhere")  # leaving with unsaved changes: the browser asks first
    assert asked == ["beforeunload"]
    assert not server.scene.exists()  # nothing is written until Save
    server.api.post("/api/save")
    assert 'ref "refs/corgi.png"' in server.scene.read_text()
    assert not (server.scene.parent / "refs" / "subject.png").exists()  # the placeholder is copied only if named


def test_render_button_streams_progress_shows_the_image_and_cancels(browser, tmp_path):
    pytest.importorskip("diffusers")
    shutil.copy(EXAMPLES / "toy_room.sigma", tmp_path / "toy_room.sigma")
    shutil.copytree(EXAMPLES / "toy", tmp_path / "toy")
    srv = EditorServer(tmp_path / "toy_room.sigma")
    try:
        page, _ = open_page(browser, srv)
        page.click("#render")
        page.wait_for_function("document.getElementById('status').textContent.startsWith('rendering: step')",
                               timeout=180_000)
        page.locator("#render-image").wait_for(timeout=300_000)
        assert '"seed": 3' in page.locator("#render-sidecar").inner_text()
        assert (tmp_path / "renders" / "toy_room.png").is_file() and (tmp_path / "renders" / "toy_room.json").is_file()
        shot(page, "editor-render")
        page.click("#render")
        page.wait_for_function("document.getElementById('status').textContent.startsWith('rendering: step')",
                               timeout=180_000)
        page.click("#cancel")
        page.wait_for_function("document.getElementById('status').textContent === 'render cancelled'", timeout=60_000)
        assert not (tmp_path / "renders" / "toy_room-1.png").exists()
        page.close()
    finally:
        srv.stop()


def test_scene_panel_orbits_the_camera_and_moves_params_with_sliders(page, server):
    def scene():
        return server.api.get("/api/scene").json()["scene"]

    page.get_by_role("button", name="→").click()
    cam = wait_for(lambda: (c := scene()["camera"])["position"][0] != 0 and c)
    assert cam["look_at"] == [0, 0.8, 0]  # orbit turns about look_at
    x, y, z = cam["position"]
    assert x ** 2 + (y - 0.8) ** 2 + z ** 2 == pytest.approx(0.8 ** 2 + 4 ** 2, rel=1e-3)  # same distance to it
    slider = page.locator("input[data-param=rug_x]")
    box = wait_for(lambda: slider.bounding_box())
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    wait_for(lambda: next(p for p in scene()["params"] if p["name"] == "rug_x")["value"] > 0.8)
    assert "center ($rug_x, 0.25, 1.0)" in server.api.get("/api/scene").json()["source"]
