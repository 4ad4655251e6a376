"""The editor's HTTP API in-process: edits land in the .sigma text at the right spans, history, save, maps."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from sigmascene.grammar import load

from editor_support import H

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def room(tmp_path: Path) -> Path:
    for name in ("living_room.sigma", "furniture.sigma", "toy_room.sigma"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    for sub in ("refs", "masks", "meshes", "toy"):
        shutil.copytree(EXAMPLES / sub, tmp_path / sub)
    return tmp_path / "living_room.sigma"


def changed_lines(a: str, b: str) -> list[tuple[str, str]]:
    la, lb = a.splitlines(), b.splitlines()
    assert len(la) == len(lb), "an edit must not add or remove lines here"
    return [(x, y) for x, y in zip(la, lb) if x != y]


def test_dragging_a_2d_box_changes_only_its_numbers_and_the_routing_map(client, room):
    start = room.read_text()
    before = client.get("/api/maps/ir_asc.png", headers=H).content
    shift = 100 / 1024
    r = client.patch("/api/subjects/armchair", headers=H, json={"placement": {"x0": 0.05 + shift, "x1": 0.45 + shift}})
    assert r.status_code == 200, r.text
    text = r.json()["source"]
    assert changed_lines(start, text) == [
        ("    box2d (0.05, 0.40, 0.45, 0.95)  # x0 y0 x1 y1, fractions of the canvas",
         "    box2d (0.1477, 0.40, 0.5477, 0.95)  # x0 y0 x1 y1, fractions of the canvas")]
    assert client.get("/api/maps/ir_asc.png", headers=H).content != before
    client.post("/api/save", headers=H)
    box = load(room).subject("armchair").placement
    assert box.x0 == pytest.approx(0.05 + shift, abs=1e-4) and box.x1 == pytest.approx(0.45 + shift, abs=1e-4)


def test_a_value_written_as_a_param_changes_the_param_definition(client, room):
    r = client.patch("/api/subjects/corgi", headers=H, json={"placement": {"center": [0.5, 0.25, 1.2]}})
    text = r.json()["source"]
    assert "param rug_x = 0.5  # try:" in text
    assert "center ($rug_x, 0.25, 1.2)" in text
    corgi = r.json()["scene"]["subjects"][1]
    assert corgi["placement"]["center"] == [0.5, 0.25, 1.2]
    assert corgi["params"] == {"placement.center.0": "$rug_x"}


def test_units_as_written_are_kept_and_converted(tmp_path, client_for):
    shutil.copytree(EXAMPLES / "refs", tmp_path / "refs")
    f = tmp_path / "u.sigma"
    f.write_text('sigma 1\ncanvas 512 x 256\nsubject a {\n    ref "refs/corgi.png"\n'
                 '    box3d { center (0, 50 cm, -2) size (1, 1, 1) yaw 0.5 rad }\n}\n'
                 'subject b {\n    ref "refs/vase.png"\n    box2d (10 px, 0.1, 0.5, 0.9)\n}\n')
    c = client_for(f)
    r = c.patch("/api/subjects/a", headers=H, json={"placement": {"center": [0, 0.75, -2], "yaw": 45}})
    assert "center (0, 75 cm, -2)" in r.json()["source"] and "yaw 0.7854 rad" in r.json()["source"]
    r = c.patch("/api/subjects/b", headers=H, json={"placement": {"x0": 0.25}})
    assert "box2d (128 px, 0.1, 0.5, 0.9)" in r.json()["source"]


def test_missing_fields_are_inserted_without_losing_comments(client, room):
    r = client.patch("/api/subjects/lamp", headers=H, json={"depth": 2.5, "caption": "a tall lamp"})
    text = r.json()["source"]
    assert '    mask "masks/lamp.png"  # non-zero = subject\n    depth 2.5\n' in text
    assert 'caption "a tall lamp"' in text
    r = client.patch("/api/subjects/vase", headers=H, json={"placement": {"pitch": 10}})
    assert 'mesh "meshes/vase.obj" { position (-0.6, 0, 1.2) scale 0.6 yaw 15 deg pitch 10 deg }' in r.json()["source"]


def test_renaming_updates_mentions_and_relations(client):
    r = client.patch("/api/subjects/armchair", headers=H, json={"name": "chair"})
    text = r.json()["source"]
    assert "subject chair {" in text and "in front of @chair," in text and "behind chair" in text
    assert "armchair" not in text.replace("refs/armchair.png", "").replace("a red armchair", "")
    assert client.patch("/api/subjects/chair", headers=H, json={"name": "2bad"}).status_code == 400


def test_subjects_from_an_included_file_are_not_edited_here(client):
    r = client.patch("/api/subjects/sofa", headers=H, json={"depth": 2})
    assert r.status_code == 400 and "furniture.sigma" in r.json()["error"]


def test_reordering_follows_the_documented_depth_rule(client, room):
    order = client.get("/api/maps", headers=H).json()["order"]
    assert order == ["sofa", "plant", "lamp", "armchair", "corgi", "vase"]
    depths = {e["name"]: e["depth"] for e in client.get("/api/maps", headers=H).json()["subjects"]}
    r = client.post("/api/subjects/armchair/reorder", headers=H, json={"index": 1})  # between sofa and plant
    assert r.status_code == 200, r.text
    maps = client.get("/api/maps", headers=H).json()
    assert maps["order"][:2] == ["sofa", "armchair"]
    chair = next(s for s in r.json()["scene"]["subjects"] if s["name"] == "armchair")
    assert chair["depth"] == pytest.approx((depths["sofa"] + depths["plant"]) / 2, abs=1e-3)
    assert "behind armchair" not in r.json()["source"]  # lamp's relation would now contradict the order
    # a 3D subject moves along its camera ray instead
    r = client.post("/api/subjects/vase/reorder", headers=H, json={"index": 0})
    assert client.get("/api/maps", headers=H).json()["order"][0] == "vase"


def test_undo_twice_gives_the_file_back_byte_for_byte_and_redo_reapplies(client, room):
    start = room.read_bytes()
    client.patch("/api/subjects/armchair", headers=H, json={"placement": {"x0": 0.1}, "coalesce": "drag-1"})
    client.patch("/api/subjects/armchair", headers=H, json={"placement": {"x0": 0.12}, "coalesce": "drag-1"})
    client.put("/api/scene", headers=H, json={"source": room.read_text().replace("seed 7", "seed 8")})
    assert client.get("/api/status", headers=H).json()["can_undo"]
    client.post("/api/undo", headers=H)
    client.post("/api/undo", headers=H)  # the two PATCHes of one drag are one step
    r = client.post("/api/save", headers=H)
    assert r.status_code == 200 and room.read_bytes() == start
    r = client.post("/api/redo", headers=H)
    assert "box2d (0.12, 0.40," in r.json()["source"]


def test_invalid_source_shows_the_same_located_diagnostics_as_check(client, room):
    bad = room.read_text().replace("caption \"a corgi\"", "captoin \"a corgi\"")
    r = client.put("/api/scene", headers=H, json={"source": bad})
    d = r.json()["diagnostics"]
    assert r.json()["scene"] is None and len(d) == 1
    assert (d[0]["line"], d[0]["column"]) == (18, 5) and "did you mean 'caption'" in d[0]["hint"]
    assert d[0]["in_this_file"] and "^" in d[0]["text"]
    assert client.get("/api/maps", headers=H).json()["error"] is True
    # the picture refuses to edit a broken text instead of guessing
    assert client.patch("/api/subjects/armchair", headers=H, json={"depth": 3}).status_code == 400


def test_save_is_refused_after_an_outside_change_until_forced_or_reloaded(client, room):
    client.patch("/api/subjects/armchair", headers=H, json={"depth": 3.0})
    room.write_text(room.read_text() + "\n# changed elsewhere\n")
    assert client.get("/api/status", headers=H).json()["external_change"] is True
    r = client.post("/api/save", headers=H)
    assert r.status_code == 409 and "changed by another program" in r.json()["error"]
    assert room.read_text().endswith("# changed elsewhere\n")
    r = client.post("/api/reload", headers=H)
    assert r.json()["source"].endswith("# changed elsewhere\n") and not r.json()["external_change"]
    client.post("/api/undo", headers=H)
    assert client.post("/api/save", headers=H, json={"force": True}).status_code == 200
    assert "depth 3  #" in room.read_text()
    assert not [p for p in room.parent.iterdir() if p.name.endswith(".tmp")]


def test_maps_report_visible_fractions_and_every_map_is_a_png(client):
    info = client.get("/api/maps", headers=H).json()
    assert {e["name"]: e["visible_fraction"] for e in info["subjects"]}["vase"] == pytest.approx(1.0)
    for name in ("layout", "ir_asc", "ir_desc", "i_t", "i_s", "control"):
        r = client.get(f"/api/maps/{name}.png", headers=H)
        assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/api/maps/nope.png", headers=H).status_code == 404


def test_a_missing_file_starts_from_a_template_and_save_creates_it(tmp_path, client_for):
    shutil.copytree(EXAMPLES / "refs", tmp_path / "refs")
    shutil.copy(EXAMPLES / "refs" / "corgi.png", tmp_path / "refs" / "subject.png")
    f = tmp_path / "new.sigma"
    c = client_for(f)
    st = c.get("/api/scene", headers=H).json()
    assert st["new_file"] and st["scene"]["subjects"][0]["name"] == "subject" and not f.exists()
    assert c.post("/api/save", headers=H).status_code == 200 and f.read_text() == st["source"]


def test_mask_move_writes_a_new_mask_file_and_keeps_the_old(client, room):
    old = (room.parent / "masks" / "lamp.png").read_bytes()
    r = client.patch("/api/subjects/lamp", headers=H, json={"mask_transform": {"dx": 0.1, "dy": 0, "scale": 1}})
    assert r.status_code == 200, r.text
    assert 'mask "masks/lamp-edit.png"' in r.json()["source"]
    assert (room.parent / "masks" / "lamp.png").read_bytes() == old
    from PIL import Image

    a = np.asarray(Image.open(room.parent / "masks" / "lamp-edit.png")) > 0
    b = np.asarray(Image.open(room.parent / "masks" / "lamp.png").convert("L").resize((1024, 1024))) > 0
    assert np.flatnonzero(a.any(0))[0] - np.flatnonzero(b.any(0))[0] == pytest.approx(102, abs=2)
    r = client.patch("/api/subjects/lamp", headers=H, json={"mask_transform": {"scale": 0.5, "origin": [0.5, 0.5]}})
    assert 'mask "masks/lamp-edit-1.png"' in r.json()["source"]
    c = np.asarray(Image.open(room.parent / "masks" / "lamp-edit-1.png")) > 0
    assert c.sum() == pytest.approx(a.sum() / 4, rel=0.05)


def test_polygon_points_can_be_added_and_a_box_switched_to_a_polygon(client):
    pts = [[0.7, 0.45], [0.9, 0.45], [0.86, 0.8], [0.8, 0.85], [0.74, 0.8]]
    r = client.patch("/api/subjects/plant", headers=H, json={"placement": {"points": pts}})
    assert "polygon (0.70, 0.45) (0.90, 0.45) (0.86, 0.80) (0.8, 0.85) (0.74, 0.80)" in r.json()["source"]
    r = client.patch("/api/subjects/armchair", headers=H, json={"kind": "polygon", "bbox": [0.1, 0.2, 0.3, 0.4]})
    assert "polygon (0.1, 0.2) (0.3, 0.2) (0.3, 0.4) (0.1, 0.4)" in r.json()["source"]
    r = client.patch("/api/subjects/armchair", headers=H, json={"kind": "box3d", "bbox": [0.1, 0.2, 0.3, 0.4]})
    assert r.status_code == 200 and "box3d { center (" in r.json()["source"]


def test_scene_panel_changes_camera_prompt_and_params(client):
    r = client.patch("/api/scene", headers=H, json={"camera": {"fov": 40, "position": [0.5, 1.6, 4]},
                                                     "prompt": "a dark room", "params": {"rug_x": -0.2}})
    text = r.json()["source"]
    assert "fov 40 deg  # vertical" in text and "position (0.5, 1.6, 4)" in text
    assert 'prompt "a dark room"' in text and "param rug_x = -0.2" in text
    r = client.patch("/api/scene", headers=H, json={"canvas": {"width": 768}})
    assert "canvas 768 x 1024" in r.json()["source"]
    r = client.patch("/api/scene", headers=H, json={"canvas": {"width": 770}})
    assert r.status_code == 400 and "multiples of 16" in r.json()["error"]


def test_3d_compiles_work_from_the_server_thread_and_then_the_main_thread(client, room):
    """The editor compiles on a worker thread; the OpenGL context must not stay bound to it afterwards."""
    from sigmascene.compiler import compile_scene

    assert "order" in client.get("/api/maps", headers=H).json()
    assert compile_scene(load(room)).order[0] == "sofa"
    client.patch("/api/subjects/armchair", headers=H, json={"depth": 2.9})
    assert "order" in client.get("/api/maps", headers=H).json()


def test_after_a_burst_of_edits_the_maps_are_those_of_the_newest_text(client):
    for k in range(5):
        r = client.patch("/api/subjects/armchair", headers=H, json={"placement": {"x0": 0.05 + 0.01 * k}})
    newest = r.json()["revision"]
    maps = client.get("/api/maps", headers=H).json()
    assert maps["revision"] == newest
    bbox = {e["name"]: e["bbox_px"] for e in maps["subjects"]}["armchair"]
    assert bbox[0] == pytest.approx((0.05 + 0.04) * 1024, abs=1.5)
