"""The shortcuts that keep a drag's compile and the editor's pictures cheap give exactly what the plain code gives:
the visible depth handed on without a copy, I_T encoded in place, I_S and the per-mask summaries carried over, and
the layout picture drawn inside each subject's box."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sigmascene.compiler import compile_scene, encode_depth, preview
from sigmascene.compiler.compile import _visible_depth
from sigmascene.compiler.reuse import CompileReuse
from sigmascene.grammar import load

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SPECIAL = st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-30, -1.5, 3.25, 1e30])
DEPTHS = hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=9),
                    elements=st.one_of(SPECIAL, st.floats(0.0625, 80.0, width=32)))


@settings(max_examples=300, deadline=None)
@given(DEPTHS)
def test_the_visible_depth_is_where_visible_is_positive_bit_for_bit(visible):
    has = visible > 0
    want = np.where(has, visible, 0).astype(np.float32)
    got = _visible_depth(visible, has)
    assert got.dtype == np.float32 and got.tobytes() == want.tobytes()


@settings(max_examples=300, deadline=None)
@given(DEPTHS, st.booleans(), st.floats(0.05, 4.0), st.floats(4.0, 90.0))
def test_i_t_encoded_in_place_equals_the_one_line_formula(depth, fixed, near, far):
    valid = np.isfinite(depth) & (depth > 0)
    kw = {"near": near, "far": far} if fixed else {}
    before = depth.tobytes()
    got = encode_depth(depth, valid, **kw)
    assert depth.tobytes() == before  # the caller's map is never written
    want = np.zeros(depth.shape, np.uint8)
    vals = depth[valid].astype(np.float64)
    if vals.size:
        lo, hi = (near, far) if fixed else (vals.min(), vals.max())
        if 1.0 / lo == 1.0 / hi:
            want[valid] = 255
        else:
            t = (1.0 / vals - 1.0 / hi) / (1.0 / lo - 1.0 / hi)
            want[valid] = (1.0 + np.rint(254.0 * np.clip(t, 0.0, 1.0))).astype(np.uint8)
    assert np.array_equal(got, want)


def test_a_drag_hands_on_i_s_and_a_reorder_restacks_it():
    scene = load(EXAMPLES / "living_room.sigma")
    reuse = CompileReuse()
    first = compile_scene(scene, reuse=reuse)
    s = scene.subject("corgi")
    s.placement = s.placement.model_copy(update={"center": (s.placement.center[0] + 0.02, *s.placement.center[1:])})
    moved = compile_scene(scene, reuse=reuse)
    assert moved.identity is first.identity and not moved.identity.flags.writeable
    near = moved.order[-1]
    scene.subject(near).depth = 50.0  # far behind everything: the order, and so I_S, changes
    reordered = compile_scene(scene, reuse=reuse)
    assert reordered.order != moved.order
    assert reordered.identity is not moved.identity
    assert np.array_equal(reordered.identity, compile_scene(scene).identity)


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.sigma")))
def test_the_layout_picture_drawn_in_boxes_equals_the_whole_canvas_drawing(name):
    compiled = compile_scene(load(EXAMPLES / name))
    unboxed = compile_scene(load(EXAMPLES / name))
    unboxed.manifest = {k: v for k, v in unboxed.manifest.items() if k != "subjects"}  # no boxes: every pixel
    for size in [(340, 340), (97, 61), (1024, 700)]:
        a = preview._layout_panel(compiled, size)
        b = preview._layout_panel(unboxed, size)
        assert a.tobytes() == b.tobytes(), size


def test_the_3d_pass_read_back_equals_pyrenders_own(monkeypatch):
    """render_3d reads the whole canvas with its window reader (red channel, depth linearised where there is
    geometry); pyrender's own read-back, used when no window is installed, gives the same four arrays."""
    import contextlib

    from sigmascene.compiler.compile import _item
    from sigmascene.renderers import pyrender3d
    from sigmascene.scene import KINDS

    scene = load(EXAMPLES / "living_room.sigma")
    items = [_item(s, scene) for s in scene.subjects if KINDS[s.placement.kind].solid]
    ours = pyrender3d.render_3d(items, scene.camera, 320, 240)
    monkeypatch.setattr(pyrender3d, "_window", lambda r, region: contextlib.nullcontext())
    theirs = pyrender3d.render_3d(items, scene.camera, 320, 240)
    assert (ours.near_id > 0).any() and (ours.far_depth > 0).any()
    for field in ("near_id", "near_depth", "far_id", "far_depth"):
        a, b = getattr(ours, field), getattr(theirs, field)
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
