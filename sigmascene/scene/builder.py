"""Short constructors for building scenes in Python, mirroring the `.sigma` statements one to one.

    scene = Scene(canvas=(1024, 1024), prompt="a sunlit living room")
    scene.add_subject("corgi", "refs/corgi.png", box3d(center=(0.3, 0.25, 1.0), size=(0.5, 0.5, 0.8), yaw=30))
    scene.add_subject("armchair", "refs/armchair.png", box2d(0.05, 0.30, 0.45, 0.95), depth=3.2)

Each placement kind's constructor (`box2d()`, `box3d()`, ...) lives in its kind module (scene/kinds/) and is
exported from the registry here and in the package face; `camera()` is the scene's own.
"""

from __future__ import annotations

from typing import Sequence

from .ir import Camera, ParamRef, build
from .kinds import BUILDERS

globals().update(BUILDERS)


def camera(position: Sequence[float] = (0.0, 0.0, 0.0), look_at: Sequence[float] | None = None,
           fov: float = 55.0) -> Camera:
    """A pinhole camera; `fov` is the vertical field of view in degrees."""
    return build(Camera, position=tuple(position), look_at=None if look_at is None else tuple(look_at), fov=fov)


__all__ = ["ParamRef", "camera"]
__all__ += list(BUILDERS)  # the placement constructors, from the registry
