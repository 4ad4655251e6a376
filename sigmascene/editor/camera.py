"""The scene camera as the browser needs it: the same matrices the compiler renders with (renderers/camera.py),
so a wireframe drawn in the page lies exactly over the box in the maps."""

from __future__ import annotations

import numpy as np

from ..renderers.camera import camera_to_world, intrinsics, project, view_depth
from ..scene import Camera, Scene


def camera_json(scene: Scene) -> dict:
    cam, w, h = scene.camera, scene.canvas.width, scene.canvas.height
    c2w = camera_to_world(cam)
    fx, fy, cx, cy = intrinsics(cam, w, h)
    return {"position": list(cam.position), "look_at": None if cam.look_at is None else list(cam.look_at),
            "fov": cam.fov, "c2w": c2w.tolist(), "w2c": np.linalg.inv(c2w).tolist(),
            "fx": fx, "fy": fy, "cx": cx, "cy": cy, "width": w, "height": h}


def _ray(cam: Camera, w: int, h: int, u: float, v: float) -> tuple[np.ndarray, np.ndarray]:
    c2w = camera_to_world(cam)
    fx, fy, cx, cy = intrinsics(cam, w, h)
    d_cam = np.array([(u - cx) / fx, -(v - cy) / fy, -1.0])
    d = c2w[:3, :3] @ d_cam
    return c2w[:3, 3].copy(), d / np.linalg.norm(d)


def box_under(scene: Scene, bbox: tuple[float, float, float, float], depth: float) -> tuple[tuple, tuple]:
    """A box standing on y = 0 whose front covers the canvas box `bbox` seen at view depth `depth`."""
    w, h = scene.canvas.width, scene.canvas.height
    x0, y0, x1, y1 = bbox
    o, d = _ray(scene.camera, w, h, (x0 + x1) / 2 * w, (y0 + y1) / 2 * h)
    fwd = -camera_to_world(scene.camera)[:3, 2]
    t = depth / max(1e-6, float(d @ fwd))
    centre = o + t * d
    fx = intrinsics(scene.camera, w, h)[0]
    width = max(0.05, (x1 - x0) * w * depth / fx)
    height = max(0.05, (y1 - y0) * h * depth / fx)
    size = (round(width, 3), round(height, 3), round(width, 3))
    return (round(float(centre[0]), 3), round(height / 2, 3), round(float(centre[2]), 3)), size


def along_ray_to_depth(scene: Scene, point: tuple[float, float, float], depth: float) -> tuple[float, float, float]:
    """Move a world point along its camera ray so its view depth becomes `depth` (it stays where it is on screen)."""
    p = np.asarray(point, float)
    pos = np.asarray(scene.camera.position, float)
    now = float(view_depth(p[None], scene.camera)[0])
    if now <= 1e-6:
        return float(p[0]), float(p[1]), float(p[2])
    q = pos + (p - pos) * (depth / now)
    return float(q[0]), float(q[1]), float(q[2])


def project_points(scene: Scene, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return project(pts, scene.camera, scene.canvas.width, scene.canvas.height)
