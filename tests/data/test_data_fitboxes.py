"""Box fitting against the synthetic world's exact boxes, and the geometry it rests on."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigmascene.data import Box3DRecord, load_dataset
from sigmascene.data.fitboxes import evaluate_fit, fit_dataset, fit_upright
from sigmascene.data.geometry import box_corners, box_iou_3d, euler_to_matrix, matrix_to_euler
from sigmascene.data.io import write_index
from sigmascene.data.synth import SynthConfig
from sigmascene.data.validate import validate

angles = st.floats(-179, 179, allow_nan=False)
sizes = st.tuples(*[st.floats(0.1, 2.0)] * 3)
centres = st.tuples(*[st.floats(-2, 2)] * 3)


@pytest.fixture(scope="module")
def world(synth_world):
    return synth_world("fit", 6, SynthConfig(seed=21, size=128, min_subjects=2, max_subjects=6))


def test_upright_fit_meets_the_accuracy_target_on_visible_subjects(world):
    result = evaluate_fit(world, upright=True, min_visible=0.5)
    assert result["subjects"] >= 10
    assert result["failed"] == 0
    assert result["mean_iou"] >= 0.6, result
    assert result["mean_centre_error_m"] < 0.12, result
    assert result["mean_iou_2d"] == pytest.approx(1.0)


def test_fit_without_extrinsics_finds_the_floor_itself(world, tmp_path):
    root = tmp_path / "noext"
    shutil.copytree(world, root)
    samples = load_dataset(root)
    for s in samples:
        s.camera.cam_to_world = None
    write_index(root, samples)
    assert evaluate_fit(root)["mean_iou"] >= 0.6


def test_fit_boxes_fills_missing_boxes_and_keeps_the_dataset_valid(world, tmp_path):
    root = tmp_path / "stripped"
    shutil.copytree(world, root)
    samples = load_dataset(root)
    truth = {(s.id, sub.name): sub.box3d for s in samples for sub in s.subjects}
    for s in samples:
        for sub in s.subjects:
            sub.box2d, sub.box3d = None, None
    write_index(root, samples)
    done = fit_dataset(root)
    assert done["box3d"] == len(truth) and done["box2d"] == len(truth) and done["skipped"] == 0
    fitted = load_dataset(root)
    assert all(sub.box2d is not None and sub.box3d is not None for s in fitted for sub in s.subjects)
    ious = [box_iou_3d(sub.box3d, truth[(s.id, sub.name)]) for s in fitted for sub in s.subjects]
    assert np.mean(ious) > 0.5
    assert validate(root).ok


def test_free_fit_runs_and_is_worse_than_upright(world):
    free = evaluate_fit(world, upright=False)
    assert 0.0 < free["mean_iou"] < evaluate_fit(world, upright=True)["mean_iou"]


def test_upright_fit_of_a_fully_sampled_box_is_exact():
    rng = np.random.default_rng(0)
    box = Box3DRecord(center=(0.3, -0.2, -3.0), size=(0.6, 0.4, 0.9), yaw=35.0)
    pts = rng.uniform(-0.5, 0.5, (4000, 3)) * np.asarray(box.size)
    pts = box.center + pts @ euler_to_matrix(box.yaw, 0, 0).T
    fit = fit_upright(np.vstack([pts, box_corners(box)]), np.array([0.0, 1.0, 0.0]), complete=False)
    assert box_iou_3d(fit, box) > 0.99


@settings(max_examples=60, deadline=None)
@given(angles, st.floats(-89, 89), angles)
def test_euler_round_trip(yaw, pitch, roll):
    r = euler_to_matrix(yaw, pitch, roll)
    assert np.allclose(euler_to_matrix(*matrix_to_euler(r)), r, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(centres, sizes, angles, centres, sizes, angles)
def test_iou_3d_is_symmetric_bounded_and_one_with_itself(c1, s1, y1, c2, s2, y2):
    a = Box3DRecord(center=c1, size=s1, yaw=y1, pitch=y2 / 3)
    b = Box3DRecord(center=c2, size=s2, yaw=y2, roll=y1 / 4)
    ab, ba = box_iou_3d(a, b), box_iou_3d(b, a)
    assert 0.0 <= ab <= 1.0 + 1e-9
    assert ab == pytest.approx(ba, abs=1e-6)
    assert box_iou_3d(a, a) == pytest.approx(1.0, abs=1e-6)


def test_iou_3d_known_values():
    a = Box3DRecord(center=(0, 0, 0), size=(1, 1, 1))
    assert box_iou_3d(a, Box3DRecord(center=(0.5, 0, 0), size=(1, 1, 1))) == pytest.approx(1 / 3)
    assert box_iou_3d(a, Box3DRecord(center=(3, 0, 0), size=(1, 1, 1))) == 0.0
    # a cube turned 45° inside a bigger one: intersection is the octagonal prism
    turned = Box3DRecord(center=(0, 0, 0), size=(1, 1, 1), yaw=45)
    octagon = 1 - 4 * 0.5 * (1 - 1 / math.sqrt(2)) ** 2 * 0.5 * 2  # unit square minus four corner triangles
    assert box_iou_3d(a, turned) == pytest.approx(octagon / (2 - octagon), rel=1e-6)
