"""The editor at the speed of a drag, in Debian's headless chromium: maps arrive during a drag, a brand-new scene
compiles and saves a file `check` accepts, subject colours survive a reorder, and "saved" stays until the next
edit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import playwright.sync_api  # noqa: F401 - the module's browser fixture (conftest) drives it: missing is an error
from editor_support import CHROMIUM, EditorServer, copy_living_room, open_page, shot

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/setup.sh)")]

from sigmascene.cli import app as cli  # noqa: E402 - after the module's skip marks, as in test_editor_browser

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOKEN = "live-test-token"


@pytest.fixture
def room(tmp_path: Path):
    srv = EditorServer(copy_living_room(tmp_path), TOKEN)
    yield srv
    srv.stop()


def frames(page) -> int:
    return int(page.evaluate("Number(document.body.dataset.mapsFrames || 0)"))


def stroke_colours(page) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#overlay g[data-subject]')]
        .map(g => [g.dataset.subject, (g.querySelector('[stroke]:not([stroke=none])') || {getAttribute: () => null})
        .getAttribute('stroke')]).filter(([, c]) => c))""")


def test_a_drag_brings_several_map_updates_before_the_mouse_is_released(browser, room):
    """...paced by the frames: the page sends about one PATCH per maps frame (a fast mouse does not queue parses
    the server never compiles); the source pane and the subject list, left alone mid-drag, catch up on release."""
    page, errors = open_page(browser, room)
    patches: list[str] = []  # accepted ones: a refused PATCH (a position the editor will not write) draws no frame
    page.on("response", lambda r: patches.append(r.url) if r.request.method == "PATCH" and r.ok else None)
    page.locator("[data-subject=corgi] .body").click()
    hb = page.locator("[data-subject=corgi] [data-handle=move3d]").bounding_box()
    x, y = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    start = frames(page)
    layout0 = page.locator("#layout").get_attribute("src")
    t0 = time.time()
    k = 0
    while time.time() - t0 < 6.0:  # a slow, continuous drag: one small step every 50 ms
        k += 1
        page.mouse.move(x - k * 1.5, y + k * 0.5)
        page.wait_for_timeout(50)
    during = frames(page) - start
    sent = len(patches)
    page.mouse.up()
    assert during >= 3, f"only {during} map updates arrived during a 6 s drag"
    assert sent <= during + 3, f"{sent} PATCHes for {during} maps frames during {k} mouse moves"
    assert page.locator("#layout").get_attribute("src") != layout0
    rev = room.api.get("/api/status").json()["revision"]
    page.wait_for_function(f"Number(document.body.dataset.mapsRevision) >= {rev}", timeout=60_000)
    page.wait_for_function(f"Number(document.body.dataset.layoutRevision) >= {rev}", timeout=60_000)
    assert room.api.get("/api/status").json()["can_undo"]
    final = room.api.get("/api/scene").json()
    assert page.locator("#source").input_value() == final["source"]
    corgi = next(s for s in final["scene"]["subjects"] if s["name"] == "corgi")
    shown = page.locator("#subjects li[data-name=corgi] .meta").inner_text()
    assert shown.startswith(corgi["placement"]["kind"]) and "%" in shown  # the list was drawn with the new maps
    shot(page, "editor-live-drag")
    assert not errors, errors


def test_a_brand_new_scene_compiles_and_saves_a_file_check_accepts(browser, tmp_path):
    srv = EditorServer(tmp_path / "fresh.sigma", TOKEN)
    try:
        page, errors = open_page(browser, srv)
        page.wait_for_function("document.getElementById('filename').textContent.includes('(new)')")
        assert page.locator("#diagcount").inner_text() == "ok"
        assert page.locator("#verror").is_hidden()
        assert "cannot" not in page.locator("#warnings").inner_text()
        page.wait_for_selector("body[data-layout-revision]", timeout=60_000)
        page.wait_for_function("document.getElementById('layout').complete")
        assert page.evaluate("document.getElementById('layout').naturalWidth") > 0  # a picture, not a broken image
        assert not (tmp_path / "refs").exists()  # nothing written before Save
        page.locator("#save").click()
        page.locator("#saved").wait_for(state="visible", timeout=30_000)
        assert (tmp_path / "fresh.sigma").is_file() and (tmp_path / "refs" / "subject.png").is_file()
        r = CliRunner().invoke(cli, ["check", str(tmp_path / "fresh.sigma")])
        assert r.exit_code == 0, r.output
        shot(page, "editor-new-scene")
        assert not errors, errors
    finally:
        srv.stop()


def test_subject_colours_stay_with_their_subjects_across_a_reorder(browser, room):
    page, errors = open_page(browser, room)
    before = stroke_colours(page)
    legend = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#legend li')]
        .map(li => [li.dataset.name, li.querySelector('.sw').style.background]))""")
    assert set(legend) >= {"corgi", "armchair", "vase", "plant"}
    assert legend["corgi"] == before["corgi"].replace(",", ", ")
    order0 = room.api.get("/api/maps").json()["order"]
    rev = page.evaluate("""() => import('/static/api.js')
        .then(m => m.call('POST', '/api/subjects/corgi/reorder', {index: 0})).then(st => st.revision)""")
    order1 = room.api.get("/api/maps").json()["order"]
    assert order1 != order0 and order1[0] == "corgi"  # the corgi is now the farthest: its intensity changed
    page.wait_for_function(f"Number(document.body.dataset.mapsRevision) >= {rev}", timeout=60_000)
    assert stroke_colours(page) == before
    swatch = "getComputedStyle(document.querySelector('#subjects li[data-name=corgi] .sw')).backgroundColor"
    assert page.evaluate(swatch) == legend["corgi"]
    assert not errors, errors


def test_save_feedback_stays_until_the_next_edit(browser, room):
    page, errors = open_page(browser, room)
    page.keyboard.press("Control+s")
    page.locator("#saved").wait_for(state="visible", timeout=30_000)
    page.wait_for_timeout(3000)  # it used to vanish within half a second
    assert page.locator("#saved").is_visible() and "saved" in page.locator("#saved").inner_text()
    r = room.api.patch("/api/subjects/armchair", json={"placement": {"x0": 0.06, "x1": 0.46}})
    assert r.status_code == 200
    page.evaluate("import('/static/api.js').then(m => m.call('GET', '/api/scene'))")
    page.locator("#saved").wait_for(state="hidden", timeout=30_000)
    assert not errors, errors


def test_the_header_never_says_ok_while_the_maps_cannot_be_compiled(browser, room):
    page, errors = open_page(browser, room)
    assert page.locator("#diagcount").inner_text() == "ok"
    source = room.api.get("/api/scene").json()["source"].replace("refs/corgi.png", "refs/no_such_corgi.png")
    page.evaluate("(src) => import('/static/api.js').then(m => m.call('PUT', '/api/scene', {source: src}))", source)
    page.wait_for_function("document.getElementById('diagcount').textContent === 'does not compile'", timeout=60_000)
    assert "ok" not in page.locator("#bar").inner_text().split()
    assert "no_such_corgi" in page.locator("#warnings").inner_text()
    assert not errors, errors


def test_the_method_picker_shows_what_the_collage_method_gives_the_model(browser, room):
    page, errors = open_page(browser, room)
    page.wait_for_function("document.querySelectorAll('#method option').length > 1", timeout=30_000)
    assert page.locator("#map-method").is_hidden()  # sigma: the model sees the maps and I_S shown
    page.select_option("#method", "collage")
    page.locator("#map-method").wait_for(state="visible", timeout=60_000)
    assert page.evaluate("document.getElementById('map-method').src").startswith("data:image/png")
    assert "layout image" in page.locator("#method-note").inner_text()
    assert not errors, errors
