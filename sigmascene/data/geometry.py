"""Camera and box geometry of dataset records, for the synthesizer, the validator and the box fitter.

The conventions (OpenGL camera axes, pixel centres at +0.5, Ry·Rx·Rz Euler order) are the renderers' own:
rotations, intrinsics, projection and box corners come from `renderers/camera.py`, the module the compiler
draws with, so the synthetic ground truth, the validator's checks, the fitted boxes and the control maps agree by
construction. What is added here works on the dataset's records (camera-frame boxes, recorded intrinsics) and on
the way back from pixels: Euler angles from a matrix, back-projection, IoU.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..core.masks import mask_box
from ..renderers.camera import box_corners as corners_of
from ..renderers.camera import intrinsics_from_fov, project_camera, rot_x, rot_y, rot_z, rotation_matrix
from .schema import Box3DRecord, CameraRecord

__all__ = ["backproject", "box_corners", "box_from_pose", "box_iou_2d", "box_iou_3d", "box_rotation", "box_volume",
           "camera_up", "euler_to_matrix", "intrinsics_from_fov", "mask_box", "matrix_to_euler", "project",
           "rot_x", "rot_y", "rot_z"]


# -- rotations ----------------------------------------------------------------------------------------------
euler_to_matrix = rotation_matrix  # the Scene's box3d/mesh orientation: yaw about +y, pitch about x, roll about z


def matrix_to_euler(r: np.ndarray) -> tuple[float, float, float]:
    """Inverse of `euler_to_matrix` (degrees); at pitch ±90° roll is folded into yaw."""
    r = np.asarray(r, dtype=np.float64)
    sp = float(np.clip(-r[1, 2], -1.0, 1.0))
    pitch = math.asin(sp)
    if abs(sp) < 1.0 - 1e-9:
        yaw = math.atan2(r[0, 2], r[2, 2])
        roll = math.atan2(r[1, 0], r[1, 1])
    else:  # gimbal lock: only yaw - roll (or yaw + roll) is defined
        yaw = math.atan2(-r[2, 0], r[0, 0])
        roll = 0.0
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def box_rotation(box: Box3DRecord) -> np.ndarray:
    return euler_to_matrix(box.yaw, box.pitch, box.roll)


def box_corners(box: Box3DRecord) -> np.ndarray:
    """The 8 corners (8x3) of an oriented box, in the box's own frame (camera coordinates for dataset boxes)."""
    return corners_of(box.center, box.size, box.yaw, box.pitch, box.roll)


def box_from_pose(center: Sequence[float] | np.ndarray, size: Sequence[float] | np.ndarray,
                  rotation: np.ndarray) -> Box3DRecord:
    yaw, pitch, roll = matrix_to_euler(rotation)
    return Box3DRecord(center=tuple(float(c) for c in center), size=tuple(float(s) for s in size),
                       yaw=yaw, pitch=pitch, roll=roll)


# -- camera ---------------------------------------------------------------------------------------------------
def project(points: np.ndarray, cam: CameraRecord) -> tuple[np.ndarray, np.ndarray]:
    """Camera-space points (Nx3) to continuous pixel coordinates (Nx2) and their z-depth (N,)."""
    return project_camera(points, cam.fx, cam.fy, cam.cx, cam.cy)


def backproject(depth: np.ndarray, cam: CameraRecord, where: np.ndarray | None = None) -> np.ndarray:
    """Pixels with depth > 0 (optionally only where `where` is true) to camera-space points (Nx3)."""
    valid = depth > 0
    if where is not None:
        valid &= where
    rows, cols = np.nonzero(valid)
    z = depth[rows, cols].astype(np.float64)
    x = (cols + 0.5 - cam.cx) * z / cam.fx
    y = -(rows + 0.5 - cam.cy) * z / cam.fy
    return np.stack([x, y, -z], axis=1)


def camera_up(cam: CameraRecord) -> np.ndarray | None:
    """World +y expressed in camera coordinates, when the extrinsics are known."""
    if cam.cam_to_world is None:
        return None
    r = np.asarray(cam.cam_to_world, dtype=np.float64)[:3, :3]
    up = r.T @ np.array([0.0, 1.0, 0.0])
    return up / np.linalg.norm(up)


def box_iou_2d(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# -- 3D IoU -----------------------------------------------------------------------------------------------------
def _halfspaces(box: Box3DRecord) -> np.ndarray:
    """Six half-spaces `n·x + b <= 0` bounding the box, in scipy's HalfspaceIntersection layout."""
    r, c = box_rotation(box), np.asarray(box.center, dtype=np.float64)
    rows = []
    for k in range(3):
        n, h = r[:, k], box.size[k] / 2.0
        rows.append([*n, -n @ c - h])
        rows.append([*(-n), n @ c - h])
    return np.asarray(rows)


def box_volume(box: Box3DRecord) -> float:
    return float(np.prod(box.size))


def box_iou_3d(a: Box3DRecord, b: Box3DRecord) -> float:
    """Exact IoU of two oriented boxes: the intersection is a convex polytope, found by half-space intersection."""
    from scipy.optimize import linprog
    from scipy.spatial import ConvexHull, HalfspaceIntersection
    from scipy.spatial import QhullError

    hs = np.vstack([_halfspaces(a), _halfspaces(b)])
    normals, offsets = hs[:, :3], hs[:, 3]
    # Chebyshev centre: the point deepest inside both boxes; none with positive radius means they don't overlap.
    norms = np.linalg.norm(normals, axis=1, keepdims=True)
    res = linprog(c=[0, 0, 0, -1], A_ub=np.hstack([normals, norms]), b_ub=-offsets,
                  bounds=[(None, None)] * 3 + [(0, None)], method="highs")
    if not res.success or res.x[3] < 1e-7:
        return 0.0
    try:
        inter = HalfspaceIntersection(hs, res.x[:3])
        vol = ConvexHull(inter.intersections).volume
    except QhullError:
        return 0.0
    union = box_volume(a) + box_volume(b) - vol
    return float(vol / union) if union > 0 else 0.0
