"""Short constructors for building scenes in Python, mirroring the `.sigma` statements one to one.

    scene = Scene(canvas=(1024, 1024), prompt="a sunlit living room")
    scene.add_subject("corgi", "refs/corgi.png", box3d(center=(0.3, 0.25, 1.0), size=(0.5, 0.5, 0.8), yaw=30))
    scene.add_subject("armchair", "refs/armchair.png", box2d(0.05, 0.30, 0.45, 0.95), depth=3.2)
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence


from .ir import Box2D, Box3D, Camera, Mask, Mesh, ParamRef, Polygon, build


def box2d(x0: float, y0: float, x1: float, y1: float) -> Box2D:
    """A 2D box in canvas fractions (x0, y0, x1, y1)."""
    return build(Box2D, x0=x0, y0=y0, x1=x1, y1=y1)


def box3d(center: Sequence[float], size: Sequence[float], yaw: float = 0.0, pitch: float = 0.0,
          roll: float = 0.0) -> Box3D:
    """An oriented 3D box in world metres; angles in degrees."""
    return build(Box3D, center=tuple(center), size=tuple(size), yaw=yaw, pitch=pitch, roll=roll)


def mask(path: str | Path) -> Mask:
    return build(Mask, path=str(path))


def polygon(*points: Sequence[float]) -> Polygon:
    """A polygon from (x, y) canvas-fraction points: polygon((0.7, 0.5), (0.9, 0.5), (0.8, 0.9))."""
    return build(Polygon, points=[tuple(p) for p in points])


def mesh(path: str | Path, position: Sequence[float] = (0.0, 0.0, 0.0), scale: float = 1.0, yaw: float = 0.0,
         pitch: float = 0.0, roll: float = 0.0) -> Mesh:
    return build(Mesh, path=str(path), position=tuple(position), scale=scale, yaw=yaw, pitch=pitch, roll=roll)


def camera(position: Sequence[float] = (0.0, 0.0, 0.0), look_at: Sequence[float] | None = None,
           fov: float = 55.0) -> Camera:
    """A pinhole camera; `fov` is the vertical field of view in degrees."""
    return build(Camera, position=tuple(position), look_at=None if look_at is None else tuple(look_at), fov=fov)


__all__ = ["ParamRef", "box2d", "box3d", "camera", "mask", "mesh", "polygon"]
