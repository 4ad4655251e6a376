"""compile_scene(reuse=...) gives the same bytes as a compile from scratch: on every example, and along random
edit sequences that move 2D boxes, polygons, 3D boxes and meshes (the editor's drags), including moves that change
the far plane, leave the canvas or reach behind the camera."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigmascene.compiler import compile_scene
from sigmascene.compiler.reuse import CompileReuse
from sigmascene.errors import SceneValidationError, SigmaError
from sigmascene.grammar import load

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def same(a, b) -> None:
    assert np.array_equal(a.control, b.control)
    assert np.array_equal(a.identity, b.identity)
    assert a.manifest == b.manifest and a.warnings == b.warnings
    assert a.order == b.order
    for name in a.coverage:
        assert np.array_equal(a.coverage[name], b.coverage[name])
    assert a.depth.dtype == b.depth.dtype and a.depth.tobytes() == b.depth.tobytes()  # bits: -0.0 is not 0.0


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.sigma")))
def test_every_example_compiles_to_the_same_bytes_with_and_without_reuse(name):
    scene = load(EXAMPLES / name)
    reuse = CompileReuse()
    first = compile_scene(scene, reuse=reuse)
    again = compile_scene(scene, reuse=reuse)  # everything carried over
    plain = compile_scene(scene)
    same(first, plain)
    same(again, plain)


def _moved(scene, name: str, dx: float, dz: float):
    s = scene.subject(name)
    p = s.placement
    if p.kind == "box2d":
        s.placement = p.model_copy(update={"x0": p.x0 + dx, "x1": p.x1 + dx, "y0": p.y0 + dz, "y1": p.y1 + dz})
    elif p.kind == "polygon":
        s.placement = p.model_copy(update={"points": [(x + dx, y + dz) for x, y in p.points]})
    elif p.kind == "box3d":
        c = p.center
        s.placement = p.model_copy(update={"center": (c[0] + 4 * dx, c[1], c[2] + 4 * dz)})
    elif p.kind == "mesh":
        c = p.position
        s.placement = p.model_copy(update={"position": (c[0] + 4 * dx, c[1], c[2] + 4 * dz), "yaw": p.yaw + 40 * dx})


MOVABLE = ["corgi", "armchair", "plant", "vase", "sofa"]


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(MOVABLE), st.floats(-0.15, 0.15), st.floats(-0.15, 0.15)),
                min_size=3, max_size=6))
def test_a_sequence_of_drags_keeps_every_map_identical(moves):
    scene = load(EXAMPLES / "living_room.sigma")
    reuse = CompileReuse()
    compile_scene(scene, reuse=reuse)
    for name, dx, dz in moves:
        try:
            _moved(scene, name, dx, dz)
        except SceneValidationError:  # off the canvas: the editor refuses that edit too
            continue
        try:
            plain = compile_scene(scene)
        except SigmaError as err:  # a box too close to the camera...: refused the same way with reuse
            with pytest.raises(type(err)):
                compile_scene(scene, reuse=reuse)
            return
        same(compile_scene(scene, reuse=reuse), plain)


def test_a_small_3d_move_redraws_only_a_window_and_a_2d_move_reuses_the_3d_pass():
    scene = load(EXAMPLES / "living_room.sigma")
    reuse = CompileReuse()
    compile_scene(scene, reuse=reuse)
    assert reuse.last_3d == "full"
    _moved(scene, "corgi", 0.01, 0.0)
    same(compile_scene(scene, reuse=reuse), compile_scene(scene))
    assert reuse.last_3d == "window"
    _moved(scene, "armchair", 0.01, 0.0)
    same(compile_scene(scene, reuse=reuse), compile_scene(scene))
    assert reuse.last_3d == "reused"
    scene.camera = scene.camera.model_copy(update={"fov": scene.camera.fov + 5})
    same(compile_scene(scene, reuse=reuse), compile_scene(scene))
    assert reuse.last_3d == "full"


def test_windows_drawn_one_after_another_into_the_same_pass_keep_every_map_identical():
    """The window is written into the previous pass's arrays (no copy): consecutive windows of different
    subjects, each overlapping the last, must still give a plain compile's bytes at every step."""
    scene = load(EXAMPLES / "living_room.sigma")
    reuse = CompileReuse()
    compile_scene(scene, reuse=reuse)
    seen = set()
    for k in range(10):
        name = ("corgi", "vase")[k % 2]
        _moved(scene, name, 0.012 * (1 if k % 4 < 2 else -1), 0.004)
        same(compile_scene(scene, reuse=reuse), compile_scene(scene))
        seen.add(reuse.last_3d)
    assert "window" in seen
