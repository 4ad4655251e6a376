"""Structure-mode sampling and augmentations follow their documented distributions; examples come from the compiler."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigmascene.scene import Box2D, Box3D, Mask
from sigmascene.train.config import DataConfig
from sigmascene.train.samples import (SampleBuilder, available_structures, canvas_size, choose_prompt_mode,
                                      choose_structure, dilate, jitter_box2d, jitter_box3d)
from train_support import synthetic_dataset

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


@pytest.mark.parametrize("w,h,res,expect", [(64, 64, 0, (64, 64)), (100, 60, 0, (96, 64)),
                                            (640, 480, 1024, (1024, 768)), (512, 512, 256, (256, 256))])
def test_canvas_is_token_aligned(w, h, res, expect):
    assert canvas_size(w, h, res) == expect


def test_prompt_forms_alternate_with_the_configured_probability():
    rng = np.random.default_rng(4)
    draws = [choose_prompt_mode(rng, 0.5, True) for _ in range(6000)]
    assert abs(draws.count("full") / 6000 - 0.5) < 0.03
    assert {choose_prompt_mode(rng, 0.9, False) for _ in range(200)} == {"background"}


@pytest.fixture(scope="module")
def builder(tmp_path_factory):
    from sigmascene.data.io import load_dataset

    root = synthetic_dataset(tmp_path_factory)
    return SampleBuilder(root, load_dataset(root), DataConfig(), tmp_path_factory.mktemp("augment"))


def test_mask_dilation_happens_at_its_rate_with_uniform_radii(builder):
    rng = np.random.default_rng(5)
    radii = []
    for k in range(300):
        scene = builder.scene(k % len(builder.samples), "mask_depth")
        dilation, jitter = builder.augment(scene, rng)
        assert not jitter and set(dilation) == {s.name for s in scene.subjects}
        radii += list(dilation.values())
        for s in scene.subjects:  # a dilated mask is a new file that covers the original
            if dilation[s.name]:
                assert isinstance(s.placement, Mask) and "-r%d.png" % dilation[s.name] in s.placement.path
    radii = np.array(radii)
    assert abs((radii > 0).mean() - 0.5) < 0.05
    counts = np.bincount(radii[radii > 0], minlength=7)[1:]
    assert counts.min() > 0.6 * counts.mean()  # roughly uniform over 1..6


def test_box_jitter_stays_within_one_percent_and_uses_all_of_it(builder):
    rng = np.random.default_rng(6)
    factors = []
    for k in range(200):
        scene = builder.scene(k % len(builder.samples), "box2d" if k % 2 else "box3d_depth")
        _, jitter = builder.augment(scene, rng)
        factors += list(jitter.values())
    f = np.array(factors)
    assert f.min() >= 0.99 and f.max() <= 1.01 and f.min() < 0.992 and f.max() > 1.008


@pytest.mark.parametrize("mode", ["mask_depth", "box3d_depth", "box2d"])
def test_every_example_is_what_the_compiler_makes_of_the_scene(builder, mode):
    from sigmascene.compiler import compile_scene

    index = next(i for i, s in enumerate(builder.samples) if len(s.subjects) >= 3)
    ex = builder.build(index, structure=mode, prompt_mode="full", augment=False)
    compiled = compile_scene(builder.scene(index, mode))
    assert (ex.control == compiled.control).all() and (ex.identity == compiled.identity).all()
    assert ex.target.shape == ex.control.shape and ex.n_subjects == len(builder.samples[index].subjects)
    assert ex.prompt.startswith("Place these subjects to compose: ")
    has_depth = (ex.control[..., 2] > 0).any()
    assert has_depth == (mode != "box2d")  # plain 2D boxes carry no depth


def test_random_builds_mix_modes_prompts_and_augmentations(builder):
    rng = np.random.default_rng(7)
    examples = [builder.build(k % len(builder.samples), rng) for k in range(24)]
    assert {e.structure for e in examples} == {"mask_depth", "box3d_depth", "box2d"}
    assert {e.prompt_mode for e in examples} == {"full", "background"}
    for e in examples:
        assert e.prompt.startswith("Place these subjects " + ("to compose: " if e.prompt_mode == "full" else "in "))
        assert e.structure in available_structures(builder.samples[e.index])


def test_2d_boxes_keep_the_samples_front_to_back_order(builder):
    from sigmascene.compiler import compile_scene

    for index, sample in enumerate(builder.samples):
        if len(sample.subjects) < 3:
            continue
        depth = {s.name: -s.box3d.center[2] for s in sample.subjects}
        assert compile_scene(builder.scene(index, "box2d")).order == sorted(depth, key=depth.get, reverse=True)
