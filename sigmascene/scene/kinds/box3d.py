"""`box3d { center (x, y, z) size (w, h, d) yaw .. pitch .. roll .. }`: an oriented box in world metres, drawn
through the scene camera (a unit cube scaled by its size)."""

from __future__ import annotations

import random
from typing import Any, Literal, Sequence

from pydantic import field_validator

from ..node import MAX_SIZE, MIN_SIZE, Angle, Size3, Vec3
from ..values import build
from .base import (ROTATIONS, Lowerer, PlacementKind, PlacementNode, Printer, Speller, TextEditor, block_fields,
                   drag_solid, print_rotations, spell_rotations)


def positive_size(cls: type, v: tuple[float, float, float]) -> tuple[float, float, float]:
    """Shared by the Scene and the dataset schema so both reject a flat box with the same words."""
    if min(v) <= 0:
        raise ValueError("box3d size must be positive along every axis")
    if min(v) < MIN_SIZE or max(v) > MAX_SIZE:
        raise ValueError(f"box3d sides must lie between {MIN_SIZE:g} m and {MAX_SIZE:,.0f} m, got "
                         f"({', '.join(f'{x:g}' for x in v)})")
    return v


class Box3D(PlacementNode):
    """An oriented box in world metres; yaw about +y, pitch about +x, roll about +z, in degrees."""

    kind: Literal["box3d"] = "box3d"
    center: Vec3
    size: Size3
    yaw: Angle = 0.0
    pitch: Angle = 0.0
    roll: Angle = 0.0

    _positive = field_validator("size")(positive_size)


def box3d(center: Sequence[float], size: Sequence[float], yaw: float = 0.0, pitch: float = 0.0,
          roll: float = 0.0) -> Box3D:
    """An oriented 3D box in world metres; angles in degrees."""
    return build(Box3D, center=tuple(center), size=tuple(size), yaw=yaw, pitch=pitch, roll=roll)


class Kind(PlacementKind):
    keyword = "box3d"
    usage = 'box3d { ... }'
    node = Box3D
    build = staticmethod(box3d)
    control_word = "3D box"
    solid = True
    origin = "center"

    def lower(self, lw: Lowerer, st: Any, pf: Any) -> Box3D | None:
        fields, raws = block_fields(lw, st)
        if fields is None:
            return None
        missing = [k for k in ("center", "size") if k not in fields]
        if missing:
            lw.error(f"box3d needs {' and '.join(missing)}", st.loc,
                     "box3d { center (x, y, z)  size (w, h, d)  yaw 0 deg }")
            return None
        return lw.make(Box3D, st, fields, raws)

    def print(self, pr: Printer, p: Any) -> str:
        fields = [f"center {pr.vec(p, 'center', p.center)}", f"size {pr.vec(p, 'size', p.size)}"]
        fields += print_rotations(pr, p)
        return "box3d { " + " ".join(fields) + " }"

    def edit_text(self, sp: Speller, p: Any) -> str:
        fields = [f"center {sp.vec('center', p.center, 'length')}", f"size {sp.vec('size', p.size, 'length')}"]
        return "box3d { " + " ".join(fields + spell_rotations(sp, p)) + " }"

    def drag(self, ed: TextEditor, subj: Any, p: Any, fields: dict[str, Any], axes: tuple[int, int]) -> None:
        drag_solid(ed, subj, p, fields, ("center", "size"), {k: "angle" for k in ROTATIONS})

    def from_bbox(self, bbox: tuple[float, float, float, float], stand: Any) -> Box3D:
        center, size = stand()
        return Box3D(center=center, size=size)

    def pose(self, p: Any) -> tuple[Any, float, float, float, Any]:
        return p.center, p.yaw, p.pitch, p.roll, p.size

    def example(self, rng: random.Random) -> str:
        c = ", ".join(f"{rng.uniform(-2, 2):.2f}" for _ in range(3))
        s = ", ".join(f"{rng.uniform(0.1, 2):.2f}" for _ in range(3))
        return f"box3d {{ center ({c}) size ({s}) yaw {rng.randint(-180, 180)} deg }}"
