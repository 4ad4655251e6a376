"""The one pinhole camera and rotation convention every renderer, test and data tool uses.

Conventions (documented in docs/maps.md): world metres, y up. The camera sits at `position` and looks at
`look_at` (or down -z); its own frame is OpenGL's (x right, y up, looking down -z). Pixel (row i, column j)
covers [j, j+1) x [i, i+1) with its centre at (j + 0.5, i + 0.5); x grows right and y grows down. Depth is the
distance along the viewing axis (what depth maps and z-buffers hold), not the Euclidean distance.
Rotations: R = Ry(yaw) @ Rx(pitch) @ Rz(roll) — roll about the object's own z first, then pitch, then yaw.

The dataset tools (`data/geometry.py`) build on these functions rather than restating them, so the synthetic
ground truth, the validator, the box fitter and the compiler cannot drift apart on a convention.
"""

from __future__ import annotations

import math

import numpy as np

from ..scene import Camera


def rot_x(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=np.float64)


def rot_y(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float64)


def rot_z(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """3x3 rotation for angles in degrees: yaw about +y, pitch about +x, roll about +z."""
    return rot_y(yaw) @ rot_x(pitch) @ rot_z(roll)


def object_matrix(position, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, scale=1.0) -> np.ndarray:
    """4x4 object-to-world matrix T @ R @ S (scale may be one number or one per axis)."""
    m = np.eye(4)
    m[:3, :3] = rotation_matrix(yaw, pitch, roll) @ np.diag(np.broadcast_to(np.asarray(scale, float), (3,)))
    m[:3, 3] = position
    return m


def camera_to_world(cam: Camera) -> np.ndarray:
    """4x4 pose of the camera (OpenGL frame) in the world."""
    return look_at_pose(cam.position, cam.look_at)


def look_at_pose(eye, target=None) -> np.ndarray:
    """4x4 pose of an OpenGL camera (x right, y up, looking down -z) at `eye` looking at `target` (None: down -z),
    world y up; the scene camera and the synthetic world's identity cameras are both placed with it."""
    pos = np.asarray(eye, float)
    fwd = np.array([0.0, 0.0, -1.0]) if target is None else np.asarray(target, float) - pos
    fwd /= np.linalg.norm(fwd)
    up = np.array([0.0, 1.0, 0.0])
    right = np.cross(fwd, up)
    if np.linalg.norm(right) < 1e-9:  # looking straight up or down: let image-up be world -z / +z
        right = np.cross(fwd, np.array([0.0, 0.0, -1.0 if fwd[1] < 0 else 1.0]))
    right /= np.linalg.norm(right)
    true_up = np.cross(right, fwd)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, true_up, -fwd, pos
    return m


def intrinsics_from_fov(width: int, height: int, fov_deg: float) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) in pixels; square pixels, principal point at the canvas centre, fov is vertical."""
    f = (height / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    return f, f, width / 2.0, height / 2.0


def intrinsics(cam: Camera, width: int, height: int) -> tuple[float, float, float, float]:
    return intrinsics_from_fov(width, height, cam.fov)


def project_camera(points_cam: np.ndarray, fx: float, fy: float, cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame points (n, 3) to continuous pixel coordinates (n, 2) and view-axis depth (n,).

    Points at or behind the camera get their depth (<= 0) and NaN pixel coordinates; callers check depth.
    """
    p = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
    depth = -p[:, 2]
    safe = np.where(depth > 1e-9, depth, np.nan)
    return np.stack([cx + fx * p[:, 0] / safe, cy - fy * p[:, 1] / safe], axis=1), depth


def project(points_world: np.ndarray, cam: Camera, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (x right, y down, continuous) and view-axis depth of world points (n, 3)."""
    pts = np.asarray(points_world, float).reshape(-1, 3)
    w2c = np.linalg.inv(camera_to_world(cam))
    return project_camera(pts @ w2c[:3, :3].T + w2c[:3, 3], *intrinsics(cam, width, height))


def view_depth(points_world: np.ndarray, cam: Camera) -> np.ndarray:
    """Depth along the viewing axis (metres) of world points; the ordering key of 3D placements."""
    return project(points_world, cam, 2, 2)[1]


def box_corners(center, size, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """The 8 world-space corners of an oriented box."""
    signs = np.array([[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (-0.5, 0.5)])
    m = object_matrix(center, yaw, pitch, roll, scale=np.asarray(size, float))
    return signs @ m[:3, :3].T + m[:3, 3]
