"""One pinhole and one rotation convention: a dataset record and a scene camera project a box to the same pixels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigmascene import camera
from sigmascene.data.geometry import box_corners, intrinsics_from_fov, project
from sigmascene.data.schema import Box3DRecord, CameraRecord
from sigmascene.renderers import camera as rg

W, H = 160, 96
angles = st.floats(-180, 180, allow_nan=False)


@settings(max_examples=30, deadline=None)
@given(angles, st.floats(-60, 60), angles, st.floats(-1, 1), st.floats(-0.5, 0.5), st.floats(-6, -2))
def test_a_dataset_box_projects_where_the_compiler_draws_it(yaw, pitch, roll, x, y, z):
    """A camera at the origin looking down -z: its frame is the world, so record and scene must agree."""
    fov = 50.0
    record = CameraRecord(**dict(zip(("fx", "fy", "cx", "cy"), intrinsics_from_fov(W, H, fov))), width=W, height=H)
    box = Box3DRecord(center=(x, y, z), size=(0.4, 0.3, 0.5), yaw=yaw, pitch=pitch, roll=roll)
    uv_data, d_data = project(box_corners(box), record)
    uv_scene, d_scene = rg.project(rg.box_corners(box.center, box.size, yaw, pitch, roll), camera(fov=fov), W, H)
    np.testing.assert_allclose(uv_data, uv_scene, atol=1e-9)
    np.testing.assert_allclose(d_data, d_scene, atol=1e-9)


def test_points_behind_the_camera_have_a_depth_but_no_pixel():
    uv, depth = rg.project(np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -2.0]]), camera(), W, H)
    assert depth[0] < 0 and np.isnan(uv[0]).all()
    assert depth[1] == pytest.approx(2.0) and uv[1] == pytest.approx([W / 2, H / 2])


def test_box_corners_span_the_size_along_the_rotated_axes():
    corners = rg.box_corners((1.0, 2.0, 3.0), (2.0, 4.0, 6.0), yaw=90)
    assert corners.mean(axis=0) == pytest.approx([1.0, 2.0, 3.0])
    # yaw 90 turns the box's x (2 m) onto world -z and its z (6 m) onto world x
    assert np.ptp(corners, axis=0) == pytest.approx([6.0, 4.0, 2.0])


@settings(max_examples=30, deadline=None)
@given(st.tuples(*[st.floats(-5, 5)] * 3), st.tuples(*[st.floats(-5, 5)] * 3))
def test_a_camera_placed_at_eye_looks_at_its_target_with_image_up_towards_world_up(eye, target):
    eye, target = np.asarray(eye), np.asarray(target)
    view = target - eye
    if np.linalg.norm(view) < 1e-3 or np.linalg.norm(np.cross(view, [0, 1, 0])) < 1e-3 * np.linalg.norm(view):
        return  # no direction, or straight up/down: image-up is a convention there
    pose = rg.look_at_pose(eye, target)
    assert pose[:3, :3].T @ pose[:3, :3] == pytest.approx(np.eye(3), abs=1e-9)
    assert -pose[:3, 2] == pytest.approx(view / np.linalg.norm(view), abs=1e-9)
    assert pose[1, 1] > 0 and abs(pose[1, 0]) < 1e-9  # no roll: image x stays horizontal
    uv, depth = rg.project(target[None], _camera(eye, target), W, H)
    assert depth[0] > 0 and uv[0] == pytest.approx([W / 2, H / 2])


def _camera(eye, target):
    return camera(position=tuple(float(v) for v in eye), look_at=tuple(float(v) for v in target))
