"""Where a subject goes: the five placement nodes (2D box, 3D box, mask, polygon, mesh proxy) and their checks.

A value that cannot mean a place (a box outside the canvas, a flat 3D box, a polygon without area) is refused here,
so the parser, the Python builder and the dataset schema all reject it in the same words.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, FiniteFloat, field_validator, model_validator

from .node import MAX_SCALE, MAX_SIZE, MIN_SCALE, MIN_SIZE, Angle, Node, Size3, Vec3


class Box2D(Node):
    """An axis-aligned box in canvas fractions (x right, y down)."""

    kind: Literal["box2d"] = "box2d"
    x0: FiniteFloat
    y0: FiniteFloat
    x1: FiniteFloat
    y1: FiniteFloat

    @model_validator(mode="after")
    def _in_canvas(self) -> "Box2D":
        for v in (self.x0, self.y0, self.x1, self.y1):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"box2d coordinates must lie in [0, 1] of the canvas (or inside it in px), got {v:g}")
        if not (self.x0 < self.x1 and self.y0 < self.y1):
            raise ValueError("box2d needs x0 < x1 and y0 < y1 (it is (x0, y0, x1, y1), not (x, y, w, h))")
        return self


def positive_size(cls: type, v: tuple[float, float, float]) -> tuple[float, float, float]:
    """Shared by the Scene and the dataset schema so both reject a flat box with the same words."""
    if min(v) <= 0:
        raise ValueError("box3d size must be positive along every axis")
    if min(v) < MIN_SIZE or max(v) > MAX_SIZE:
        raise ValueError(f"box3d sides must lie between {MIN_SIZE:g} m and {MAX_SIZE:,.0f} m, got "
                         f"({', '.join(f'{x:g}' for x in v)})")
    return v


class Box3D(Node):
    """An oriented box in world metres; yaw about +y, pitch about +x, roll about +z, in degrees."""

    kind: Literal["box3d"] = "box3d"
    center: Vec3
    size: Size3
    yaw: Angle = 0.0
    pitch: Angle = 0.0
    roll: Angle = 0.0

    _positive = field_validator("size")(positive_size)


class Mask(Node):
    """A binary image (non-zero = subject), resized to the canvas."""

    kind: Literal["mask"] = "mask"
    path: str


class Polygon(Node):
    kind: Literal["polygon"] = "polygon"
    points: list[tuple[FiniteFloat, FiniteFloat]]

    @field_validator("points")
    @classmethod
    def _valid(cls, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if len(pts) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(pts)}")
        for x, y in pts:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"polygon points must lie in [0, 1] of the canvas, got ({x:g}, {y:g})")
        # Filled with the even-odd rule, so a self-intersecting outline (a bow-tie) is a valid shape even though
        # its signed area is zero; only points that all lie on one line enclose nothing.
        if not _spans_a_plane(pts):
            raise ValueError("polygon has no area (its points are collinear or repeated)")
        return pts


class Mesh(Node):
    """A mesh proxy (OBJ/PLY/GLB/STL) placed in world metres."""

    kind: Literal["mesh"] = "mesh"
    path: str
    position: Vec3 = (0.0, 0.0, 0.0)
    scale: Annotated[float, Field(ge=MIN_SCALE, le=MAX_SCALE, allow_inf_nan=False)] = 1.0
    yaw: Angle = 0.0
    pitch: Angle = 0.0
    roll: Angle = 0.0


Placement = Annotated[Union[Box2D, Box3D, Mask, Polygon, Mesh], Field(discriminator="kind")]
PLACEMENT_KINDS = ("box2d", "box3d", "mask", "polygon", "mesh")


def _spans_a_plane(pts: list[tuple[float, float]]) -> bool:
    """True unless every point lies on one line (or on one point)."""
    x0, y0 = pts[0]
    far = max(pts, key=lambda p: (p[0] - x0) ** 2 + (p[1] - y0) ** 2)
    dx, dy = far[0] - x0, far[1] - y0
    norm = (dx * dx + dy * dy) ** 0.5
    if norm < 1e-9:
        return False
    return max(abs(dx * (y - y0) - dy * (x - x0)) for x, y in pts) / norm > 1e-9
