"""Putting subjects on the floor: random pose, inside the view, never inside each other, free to occlude.

Positions are drawn in the IMAGE (a pixel, then the floor point behind it), not on the floor: uniform floor
positions would crowd the far, small end of the frustum, while pixel sampling spreads subjects over the picture
and still lines some up behind others, which is the occlusion the model must learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import rot_x, rot_y, rot_z
from .identities import SHAPES, Identity, build_mesh
from .rooms import HALF_W, Z_BACK, Z_FRONT, CameraPose, floor_point

LIFT = 1e-3  # metres between a subject and the floor, so their coplanar faces never z-fight


@dataclass
class Placed:
    identity: Identity
    pose: np.ndarray  # 4x4 object-to-world
    lying: bool
    yaw: float

    @property
    def box_world(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(centre, size, rotation) of the exact box: the mesh's bounds in its own frame, posed."""
        lo, hi = build_mesh(self.identity).bounds
        centre = self.pose[:3, :3] @ ((lo + hi) / 2) + self.pose[:3, 3]
        return centre, hi - lo, self.pose[:3, :3]


def _rest_rotation(rng: np.random.Generator, ident: Identity) -> tuple[np.ndarray, bool]:
    if SHAPES[ident.shape].can_lie and rng.random() < 0.25:
        return (rot_x(90) if rng.random() < 0.5 else rot_z(90)), True
    return np.eye(3), False


def _footprint(ident: Identity, rot: np.ndarray) -> tuple[float, float]:
    """(radius of the posed footprint around the object's origin axis, height of its lowest point)."""
    lo, hi = build_mesh(ident).bounds
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]) @ rot.T
    return float(np.max(np.hypot(corners[:, 0], corners[:, 2]))), float(corners[:, 1].min())


def place_one(rng: np.random.Generator, ident: Identity, cam: CameraPose, width: int, height: int,
              others: list[Placed], tries: int = 60) -> Placed | None:
    """One subject at a random pixel's floor point, clear of `others`; None if no free spot was found."""
    rest, lying = _rest_rotation(rng, ident)
    yaw = float(rng.uniform(-180, 180))
    rot = rot_y(yaw) @ rest
    radius, low = _footprint(ident, rot)
    for _ in range(tries):
        u, v = rng.uniform(0.06, 0.94) * width, rng.uniform(0.4, 0.93) * height
        p = floor_point(cam, u, v, width, height)
        if p is None:
            continue
        dist = float(np.linalg.norm(p - cam.position))
        if not 1.7 <= dist <= 7.5:
            continue
        if abs(p[0]) > HALF_W - radius - 0.05 or not (Z_BACK + radius + 0.05 < p[2] < Z_FRONT - radius - 0.05):
            continue
        if any(np.hypot(*(p - o.pose[:3, 3])[[0, 2]]) < radius + _footprint(o.identity, o.pose[:3, :3])[0] + 0.03
               for o in others):
            continue
        pose = np.eye(4)
        pose[:3, :3] = rot
        pose[:3, 3] = (p[0], LIFT - low, p[2])
        return Placed(identity=ident, pose=pose, lying=lying, yaw=yaw)
    return None


def place_subjects(rng: np.random.Generator, identities: list[Identity], cam: CameraPose, width: int,
                   height: int) -> list[Placed]:
    placed: list[Placed] = []
    for ident in identities:
        p = place_one(rng, ident, cam, width, height, placed)
        if p is not None:
            placed.append(p)
    return placed
