"""Flat placements cover exactly the pixels whose centres they contain, with no blended edges."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import sigmascene
from sigmascene import Scene, SigmaError, box2d, mask, polygon
from sigmascene.compiler.assets import load_mask
from sigmascene.renderers.raster import flat_coverage
from sigmascene.scene.kinds.box2d import box2d_mask
from sigmascene.scene.kinds.polygon import polygon_mask

W, H = 96, 64


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 0.9), st.floats(0, 0.9), st.floats(0.01, 0.5), st.floats(0.01, 0.5))
def test_box2d_covers_the_pixels_whose_centres_are_inside(x, y, w, h):
    b = box2d(x, y, min(1.0, x + w), min(1.0, y + h))
    m = box2d_mask(b, W, H)
    jj, ii = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    want = (jj >= b.x0 * W) & (jj < b.x1 * W) & (ii >= b.y0 * H) & (ii < b.y1 * H)
    assert (m == want).all()


points = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=3, max_size=7)


@settings(max_examples=60, deadline=None)
@given(points)
def test_polygon_fill_matches_an_even_odd_point_in_polygon_test(pts):
    from matplotlib.path import Path as PolyPath

    try:
        p = polygon(*pts)
    except (ValueError, SigmaError):  # degenerate polygons are the Scene validator's business
        return
    m = polygon_mask(p, W, H)
    jj, ii = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    ref = PolyPath(np.asarray(pts) * (W, H)).contains_points(np.c_[jj.ravel(), ii.ravel()]).reshape(H, W)
    assert (m != ref).sum() <= 2  # pixel centres exactly on an edge may go either way


def test_triangle_fill_keeps_exact_pixels():
    m = polygon_mask(polygon((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)), W, H)
    for i in range(H):
        yc = (i + 0.5) / H
        right_edge = (1.0 - yc) * W  # x + y = 1 in fractions
        assert m[i].sum() == max(0, math.ceil(right_edge - 0.5))


def test_mask_images_are_resized_to_the_canvas_without_blending(tmp_path):
    src = np.zeros((32, 48), np.uint8)
    src[8:24, 12:36] = 7  # any non-zero value is the subject
    Image.fromarray(src).save(tmp_path / "m.png")
    s = Scene(canvas=(W, H))
    s.base_dir = tmp_path
    s.add_subject("a", "r.png", mask("m.png"))
    placement = s.subjects[0].placement
    cov = load_mask(s.resolve(placement.path), None, W, H)
    assert cov.shape == (H, W) and cov.dtype == bool
    ys, xs = np.nonzero(cov)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (16, 47, 24, 71)
    assert cov.sum() == 32 * 48


def test_rgba_masks_use_alpha_and_rgb_masks_use_any_channel(tmp_path):
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere, but only the opaque part is the subject
    rgba[10:20, 10:30, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    assert load_mask(tmp_path / "cutout.png", None, W, H).sum() == 10 * 20
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[5:9, 5:9, 2] = 1  # dark blue is still non-zero
    Image.fromarray(rgb, "RGB").save(tmp_path / "blue.png")
    assert load_mask(tmp_path / "blue.png", None, W, H).sum() == 16


def test_mask_files_are_the_compilers_to_load_not_the_rasters(tmp_path):
    src = np.zeros((H, W), np.uint8)
    src[4:12, 6:10] = 255
    Image.fromarray(src).save(tmp_path / "m.png")
    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "r.png")
    s = Scene(canvas=(W, H))
    s.base_dir = tmp_path
    s.add_subject("a", "r.png", mask("m.png"), depth=2)
    with pytest.raises(TypeError, match="not a drawable"):
        flat_coverage(s.subjects[0].placement, s)
    assert int((sigmascene.compile(s).ir_asc > 0).sum()) == 8 * 4
