"""Routing maps, structure channel and identity dictionary, as docs/maps.md defines them."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import sigmascene
from sigmascene import Scene, box2d, box3d, camera, mask, mesh, polygon
from sigmascene.scene.kinds.box2d import box2d_bounds


def _ref(path, size=(64, 48), colour=(200, 30, 30)):
    Image.new("RGB", size, colour).save(path)
    return path.name


@pytest.fixture
def refs(tmp_path):
    for i, c in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]):
        _ref(tmp_path / f"r{i}.png", (64 + 16 * i, 48), c)
    return tmp_path


def _scene(base, w=128, h=96) -> Scene:
    s = Scene(canvas=(w, h))
    s.base_dir = base
    return s


def test_nearer_box_wins_ir_asc_and_farther_wins_ir_desc(refs):
    s = _scene(refs)
    s.add_subject("far", "r0.png", box2d(0.1, 0.1, 0.6, 0.6), depth=5.0)
    s.add_subject("near", "r1.png", box2d(0.4, 0.4, 0.9, 0.9), depth=2.0)
    c = sigmascene.compile(s)
    assert c.order == ["far", "near"]
    overlap = c.coverage["far"] & c.coverage["near"]
    assert overlap.any()
    assert (c.ir_asc[overlap] == 20).all()  # the nearer subject, intensity 20, is what the camera sees
    assert (c.ir_desc[overlap] == 10).all()  # the farther one is revealed in the descending map
    only_far = c.coverage["far"] & ~c.coverage["near"]
    assert (c.ir_asc[only_far] == 10).all() and (c.ir_desc[only_far] == 10).all()
    assert (c.ir_asc[~(c.coverage["far"] | c.coverage["near"])] == 0).all()


def test_structure_is_zero_outside_subjects_and_brighter_for_nearer_surfaces(refs):
    s = _scene(refs)
    s.add_subject("far", "r0.png", box2d(0.0, 0.0, 0.4, 0.5), depth=6.0)
    s.add_subject("near", "r1.png", box2d(0.5, 0.5, 1.0, 1.0), depth=1.5)
    s.add_subject("flat", "r2.png", box2d(0.0, 0.6, 0.3, 1.0))  # no depth: routed, but no geometry
    c = sigmascene.compile(s)
    any_subject = np.logical_or.reduce(list(c.coverage.values()))
    assert (c.structure[~any_subject] == 0).all()
    assert (c.structure[c.coverage["flat"]] == 0).all()
    far_code = np.unique(c.structure[c.coverage["far"]])
    near_code = np.unique(c.structure[c.coverage["near"]])
    assert far_code.tolist() == [1] and near_code.tolist() == [255]
    assert c.depth[c.coverage["near"]].max() == pytest.approx(1.5)
    assert c.manifest["structure"]["near_m"] == pytest.approx(1.5)
    assert c.manifest["structure"]["far_m"] == pytest.approx(6.0)


def test_3d_box_structure_increases_towards_the_camera(refs):
    s = _scene(refs, 160, 128)
    s.camera = camera((0, 0, 0), None, 60)
    # A long box receding from the camera, seen from above-left: its near end must be brighter.
    s.add_subject("beam", "r0.png", box3d((0.0, -0.6, -4.0), (0.4, 0.2, 5.0)))
    c = sigmascene.compile(s)
    cov = c.structure > 0
    rows = np.flatnonzero(cov.any(axis=1))
    top, bottom = rows[0], rows[-1]  # the far end is higher in the image (closer to the horizon)
    assert c.structure[bottom][cov[bottom]].mean() > c.structure[top][cov[top]].mean()
    assert c.depth[bottom][cov[bottom]].mean() < c.depth[top][cov[top]].mean()


def test_identity_dictionary_stacks_fitted_blocks_in_subject_order(refs):
    s = _scene(refs, 128, 96)
    s.add_subject("a", "r0.png", box2d(0.1, 0.1, 0.3, 0.3), depth=1.0)
    s.add_subject("b", "r1.png", box2d(0.4, 0.1, 0.6, 0.3), depth=3.0)
    s.add_subject("c", "r2.png", box2d(0.7, 0.1, 0.9, 0.3), depth=2.0)
    c = sigmascene.compile(s, identity_size=(32, 64))
    assert c.order == ["b", "c", "a"]
    assert c.identity.shape == (3 * 32, 64, 3)
    for k, name in enumerate(c.order):
        block = c.identity[32 * k:32 * (k + 1)]
        colour = {"a": (200, 30, 30), "b": (30, 200, 30), "c": (30, 30, 200)}[name]
        centre = block[16, 32]
        assert tuple(centre) == colour  # block k holds the reference of subject k (far -> near)
        w0, h0 = c.manifest["subjects"][k]["ref_size"]
        expected_w = round(w0 * min(32 / h0, 64 / w0))  # aspect kept, centred, padded white
        painted = np.flatnonzero((block != 255).any(axis=(0, 2)))
        assert painted.size == expected_w and abs(painted[0] - (64 - painted[-1] - 1)) <= 1
        assert c.manifest["subjects"][k]["identity_rows"] == [32 * k, 32 * (k + 1)]


def test_default_identity_block_is_half_canvas_in_multiples_of_16(refs):
    s = _scene(refs, 1024, 480)
    s.add_subject("a", "r0.png", box2d(0.1, 0.1, 0.3, 0.3))
    c = sigmascene.compile(s)
    assert c.block_size == (240, 512)
    assert c.identity.shape == (240, 512, 3)
    with pytest.raises(sigmascene.SigmaError, match="multiples of 16"):
        sigmascene.compile(s, identity_size=(100, 64))


def test_mixed_placements_in_one_scene(tmp_path, refs):
    m = np.zeros((50, 80), np.uint8)
    m[10:40, 5:30] = 255
    Image.fromarray(m).save(refs / "m.png")
    trimesh.creation.icosphere(subdivisions=2, radius=0.5).export(refs / "ball.obj")
    s = _scene(refs, 160, 128)
    s.camera = camera((0, 1.0, 4.0), (0, 0.5, 0), 50)
    s.add_subject("crate", "r0.png", box3d((0.8, 0.3, 0.5), (0.6, 0.6, 0.6), yaw=20))
    s.add_subject("board", "r1.png", box2d(0.05, 0.05, 0.95, 0.5), depth=6.0)
    s.add_subject("blob", "r2.png", mask("m.png"), in_front_of="board")
    s.add_subject("wedge", "r3.png", polygon((0.4, 0.6), (0.6, 0.6), (0.5, 0.95)), depth=3.0)
    s.add_subject("ball", "r0.png", mesh("ball.obj", (-0.9, 0.5, 0.0), scale=0.8))
    c = sigmascene.compile(s)
    assert set(c.order) == {"crate", "board", "blob", "wedge", "ball"}
    assert c.control.shape == (128, 160, 3) and c.control.dtype == np.uint8
    for name in c.order:
        assert c.coverage[name].any(), name
        assert (c.ir_asc == c.intensity(name)).any() or (c.ir_desc == c.intensity(name)).any()
    assert c.order.index("board") < c.order.index("blob")  # in_front_of is honoured
    kinds = {e["name"]: e["placement"]["kind"] for e in c.manifest["subjects"]}
    assert kinds == {"crate": "box3d", "board": "box2d", "blob": "mask", "wedge": "polygon", "ball": "mesh"}
    # The mask was resized to the canvas: its box is at the same fractions.
    ys, xs = np.nonzero(c.coverage["blob"])
    assert xs.min() == 10 and xs.max() == 59 and ys.min() == 26 and ys.max() == 101


def test_hidden_subject_warns_and_manifest_reports_visibility(refs):
    s = _scene(refs)
    s.add_subject("back", "r0.png", box2d(0.0, 0.0, 1.0, 1.0), depth=9.0)
    s.add_subject("middle", "r1.png", box2d(0.4, 0.4, 0.6, 0.6), depth=5.0)
    s.add_subject("front", "r2.png", box2d(0.0, 0.0, 1.0, 1.0), depth=1.0)
    c = sigmascene.compile(s)
    assert any("'middle' is hidden in both routing maps" in w for w in c.warnings)
    entries = {e["name"]: e for e in c.manifest["subjects"]}
    assert entries["middle"]["visible_fraction"] == 0.0
    assert entries["front"]["visible_fraction"] == 1.0
    x0, y0, x1, y1 = box2d_bounds(s.subject("middle").placement, 128, 96)
    assert entries["middle"]["bbox_px"] == [x0, y0, x1, y1]
    assert entries["middle"]["pixels"] == (x1 - x0) * (y1 - y0)


boxes = st.tuples(st.floats(0, 0.8), st.floats(0, 0.8), st.floats(0.05, 0.5), st.floats(0.05, 0.5),
                  st.one_of(st.none(), st.floats(0.5, 20)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(boxes, min_size=1, max_size=7))
def test_routing_maps_match_brute_force_for_flat_boxes(refs, spec):
    s = _scene(refs, 64, 48)
    for i, (x, y, w, h, d) in enumerate(spec):
        s.add_subject(f"s{i}", f"r{i % 4}.png", box2d(x, y, min(1.0, x + w), min(1.0, y + h)), depth=d)
    c = sigmascene.compile(s)
    n = len(spec)
    allowed = {0} | {10 * (k + 1) for k in range(n)}
    assert set(np.unique(c.ir_asc)) <= allowed and set(np.unique(c.ir_desc)) <= allowed
    # Order: depth-bearing subjects far -> near (ties in file order); depthless ones first, in file order.
    names = [f"s{i}" for i in range(n)]
    key = {nm: (0, 0.0, i) if d is None else (1, -d, i) for i, (nm, (*_, d)) in enumerate(zip(names, spec))}
    assert c.order == sorted(names, key=key.get)
    # Per pixel: IR_asc is the nearest covering subject (later in order on ties), IR_desc the farthest.
    rank = {nm: k for k, nm in enumerate(c.order)}
    dist = {nm: (np.inf if d is None else d) for nm, (*_, d) in zip(names, spec)}
    for yy in range(0, 48, 5):
        for xx in range(0, 64, 5):
            cover = [nm for nm in names if c.coverage[nm][yy, xx]]
            if not cover:
                assert c.ir_asc[yy, xx] == 0 == c.ir_desc[yy, xx]
                continue
            near = min(cover, key=lambda nm: (dist[nm], -rank[nm]))
            far = max(cover, key=lambda nm: (dist[nm], -rank[nm]))
            assert c.ir_asc[yy, xx] == 10 * (rank[near] + 1)
            assert c.ir_desc[yy, xx] == 10 * (rank[far] + 1)
