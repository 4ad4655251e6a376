"""Structure-mode sampling and augmentations follow their documented distributions; examples come from the compiler."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigmascene.scene import Box2D, Box3D
from sigmascene.train.config import DataConfig
from sigmascene.train.samples import canvas_size, choose_structure, dilate, jitter_box2d, jitter_box3d

ALL = ["mask_depth", "box3d_depth", "box2d"]


def _freq(draws, modes):
    return np.array([draws.count(m) for m in modes]) / len(draws)


def test_structure_modes_follow_the_configured_probabilities():
    probs = DataConfig(structure={"mask_depth": 0.5, "box3d_depth": 0.3, "box2d": 0.2}).structure.normalised()
    rng = np.random.default_rng(0)
    draws = [choose_structure(rng, probs, ALL) for _ in range(6000)]
    # 4 standard errors of a binomial proportion at n = 6000 is < 0.03
    assert np.allclose(_freq(draws, ALL), [0.5, 0.3, 0.2], atol=0.03)


def test_default_structure_modes_are_uniform():
    probs = DataConfig().structure.normalised()
    rng = np.random.default_rng(1)
    draws = [choose_structure(rng, probs, ALL) for _ in range(6000)]
    assert np.allclose(_freq(draws, ALL), [1 / 3] * 3, atol=0.03)


def test_missing_annotations_renormalise_over_the_modes_a_sample_has():
    probs = DataConfig(structure={"mask_depth": 0.5, "box3d_depth": 0.3, "box2d": 0.2}).structure.normalised()
    rng = np.random.default_rng(2)
    draws = [choose_structure(rng, probs, ["mask_depth", "box2d"]) for _ in range(4000)]
    assert set(draws) == {"mask_depth", "box2d"}
    assert abs(draws.count("mask_depth") / 4000 - 0.5 / 0.7) < 0.03


def test_a_zero_probability_mode_is_never_drawn():
    probs = DataConfig(structure={"box2d": 0}).structure.normalised()
    rng = np.random.default_rng(3)
    assert "box2d" not in {choose_structure(rng, probs, ALL) for _ in range(500)}


@settings(max_examples=60, deadline=None)
@given(x0=st.floats(0, 0.8), y0=st.floats(0, 0.8), w=st.floats(0.05, 0.2), h=st.floats(0.05, 0.2),
       f=st.floats(0.99, 1.01))
def test_box2d_jitter_keeps_centre_and_area_and_scales_the_aspect_ratio(x0, y0, w, h, f):
    box = Box2D(x0=x0, y0=y0, x1=x0 + w, y1=y0 + h)
    out = jitter_box2d(box, f)
    inside = out.x0 > 0 and out.y0 > 0 and out.x1 < 1 and out.y1 < 1
    if inside:
        assert math.isclose((out.x0 + out.x1) / 2, (box.x0 + box.x1) / 2, abs_tol=1e-9)
        assert math.isclose((out.x1 - out.x0) * (out.y1 - out.y0), w * h, rel_tol=1e-9)
        assert math.isclose((out.x1 - out.x0) / (out.y1 - out.y0), f * w / h, rel_tol=1e-9)
    assert 0 <= out.x0 < out.x1 <= 1 and 0 <= out.y0 < out.y1 <= 1


def test_box3d_jitter_scales_width_over_height_and_keeps_depth():
    box = Box3D(center=(0, 0, -3), size=(0.4, 0.8, 0.5), yaw=30)
    out = jitter_box3d(box, 1.01)
    assert math.isclose(out.size[0] / out.size[1], 1.01 * 0.5, rel_tol=1e-9)
    assert math.isclose(out.size[0] * out.size[1], 0.32, rel_tol=1e-9)
    assert out.size[2] == 0.5 and out.center == box.center and out.yaw == 30


def test_dilation_grows_a_mask_by_a_disk_of_the_radius():
    m = np.zeros((31, 31), dtype=bool)
    m[15, 15] = True
    for r in (1, 3, 6):
        d = dilate(m, r)
        ys, xs = np.nonzero(d)
        assert d.sum() == sum(1 for y in range(-r, r + 1) for x in range(-r, r + 1) if x * x + y * y <= r * r)
        assert ys.min() == 15 - r and xs.max() == 15 + r and not d[15 - r, 15 - r]
    assert (dilate(m, 0) == m).all()


@pytest.mark.parametrize("w,h,res,expect", [(64, 64, 0, (64, 64)), (100, 60, 0, (96, 64)), (640, 480, 1024, (1024, 768)),
                                            (512, 512, 256, (256, 256))])
def test_canvas_is_token_aligned(w, h, res, expect):
    assert canvas_size(w, h, res) == expect
