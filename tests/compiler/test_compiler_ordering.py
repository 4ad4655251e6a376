"""Far-to-near order: depth, depth maps, 3D geometry, relations, and the no-information rule."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import sigmascene
from sigmascene import Scene, box2d, box3d, camera


@pytest.fixture
def scene(tmp_path) -> Scene:
    Image.new("RGB", (16, 16), (1, 2, 3)).save(tmp_path / "r.png")
    s = Scene(canvas=(64, 64))
    s.base_dir = tmp_path
    return s


def test_explicit_depths_sort_far_to_near_with_ties_in_file_order(scene):
    for name, d in [("a", 2.0), ("b", 5.0), ("c", 2.0), ("d", 9.0)]:
        scene.add_subject(name, "r.png", box2d(0.1, 0.1, 0.5, 0.5), depth=d)
    c = sigmascene.compile(scene)
    assert c.order == ["d", "b", "a", "c"]
    assert [e["intensity"] for e in c.manifest["subjects"]] == [10, 20, 30, 40]
    assert [c.intensity(n) for n in c.order] == [10, 20, 30, 40]


def test_subjects_without_depth_sit_behind_in_file_order(scene):
    scene.add_subject("x", "r.png", box2d(0.1, 0.1, 0.5, 0.5))
    scene.add_subject("near", "r.png", box2d(0.1, 0.1, 0.5, 0.5), depth=1.0)
    scene.add_subject("y", "r.png", box2d(0.1, 0.1, 0.5, 0.5))
    c = sigmascene.compile(scene)
    assert c.order == ["x", "y", "near"]
    assert c.manifest["subjects"][0]["depth"] is None and c.manifest["subjects"][0]["depth_source"] == "none"
    # Depthless subjects are cards behind everything: the depth-bearing one is seen where they overlap.
    assert (c.ir_asc[c.coverage["near"]] == c.intensity("near")).all()


def test_relations_place_a_subject_next_to_its_target(scene):
    scene.add_subject("wall", "r.png", box2d(0.0, 0.0, 1.0, 1.0), depth=8.0)
    scene.add_subject("chair", "r.png", box2d(0.1, 0.4, 0.5, 0.9), depth=3.0)
    scene.add_subject("table", "r.png", box2d(0.5, 0.4, 0.9, 0.9), depth=2.0)
    scene.add_subject("lamp", "r.png", box2d(0.3, 0.1, 0.6, 0.6), behind="chair")
    scene.add_subject("cat", "r.png", box2d(0.2, 0.6, 0.4, 0.8), in_front_of="chair")
    c = sigmascene.compile(scene)
    assert c.order == ["wall", "lamp", "chair", "cat", "table"]
    lamp = c.manifest["subjects"][c.order.index("lamp")]
    assert lamp["depth_source"] == "relation" and lamp["depth"] == pytest.approx(3.0)
    overlap = c.coverage["lamp"] & c.coverage["chair"]
    assert (c.ir_asc[overlap] == c.intensity("chair")).all()
    assert (c.ir_desc[overlap] == c.intensity("wall")).all()  # the wall at 8 m is farther than both
    assert (c.structure[c.coverage["lamp"] & (c.ir_asc == c.intensity("lamp"))] == 0).all()  # no geometry


def test_relation_chains_without_any_depth_follow_the_relations(scene):
    scene.add_subject("ball", "r.png", box2d(0.5, 0.6, 0.7, 0.9), in_front_of="cat")
    scene.add_subject("sofa", "r.png", box2d(0.0, 0.3, 1.0, 0.9))
    scene.add_subject("cat", "r.png", box2d(0.3, 0.4, 0.6, 0.8), in_front_of="sofa")
    c = sigmascene.compile(scene)
    assert c.order == ["sofa", "cat", "ball"]
    both = c.coverage["cat"] & c.coverage["ball"]
    assert (c.ir_asc[both] == c.intensity("ball")).all() and (c.ir_desc[both] == c.intensity("sofa")).all()


def test_behind_a_3d_box_clears_its_farthest_pixel(scene):
    scene.camera = camera((0, 0, 0), None, 60)
    scene.add_subject("crate", "r.png", box3d((0, 0, -4), (1.0, 1.0, 2.0), yaw=30))
    scene.add_subject("poster", "r.png", box2d(0.2, 0.2, 0.8, 0.8), behind="crate")
    c = sigmascene.compile(scene)
    assert c.order == ["poster", "crate"]
    both = c.coverage["poster"] & c.coverage["crate"]
    assert (c.ir_asc[both] == c.intensity("crate")).all()
    assert (c.ir_desc[both] == c.intensity("poster")).all()


def test_depth_map_mean_inside_the_subject_orders_it(scene, tmp_path):
    d = np.full((64, 64), 1.0, np.float32)
    d[:, 32:] = 7.0
    np.save(tmp_path / "d.npy", d)
    scene.add_subject("mid", "r.png", box2d(0.0, 0.0, 1.0, 1.0), depth=4.0)
    scene.add_subject("left", "r.png", box2d(0.0, 0.0, 0.5, 1.0), depth_map="d.npy")
    scene.add_subject("right", "r.png", box2d(0.5, 0.0, 1.0, 1.0), depth_map="d.npy")
    c = sigmascene.compile(scene)
    assert c.order == ["right", "mid", "left"]
    src = {e["name"]: (e["depth_source"], e["depth"]) for e in c.manifest["subjects"]}
    assert src["left"] == ("depth_map", pytest.approx(1.0)) and src["right"] == ("depth_map", pytest.approx(7.0))


def test_relation_that_contradicts_depths_warns(scene):
    scene.add_subject("a", "r.png", box2d(0.1, 0.1, 0.5, 0.5), depth=1.0, behind="b")
    scene.add_subject("b", "r.png", box2d(0.3, 0.3, 0.7, 0.7), depth=5.0)
    c = sigmascene.compile(scene)
    assert c.order == ["a", "b"]
    assert any("'a' is behind 'b' by relation but its depth says otherwise" in w for w in c.warnings)


def test_depth_cycles_are_located_errors(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "r.png")
    text = ('sigma 1\ncanvas 64 x 64\nsubject a {\n  ref "r.png"\n  box2d (0.1, 0.1, 0.5, 0.5)\n  behind b\n}\n'
            'subject b {\n  ref "r.png"\n  box2d (0.1, 0.1, 0.5, 0.5)\n  behind a\n}\n')
    with pytest.raises(sigmascene.SigmaError) as err:
        sigmascene.compile(sigmascene.loads(text, file=str(tmp_path / "c.sigma"), base_dir=tmp_path))
    assert "cycle" in err.value.format()
