"""`mesh "file.obj" { position (x, y, z) scale s yaw .. pitch .. roll .. }`: a mesh proxy (OBJ/PLY/GLB/STL) in
world metres, drawn through the scene camera; the compiler loads the file (`compiler.assets.load_mesh`)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence

from pydantic import Field

from ...errors import SigmaError
from ..node import MAX_SCALE, MIN_SCALE, Angle, Vec3
from ..values import build
from .base import (ROTATIONS, Lowerer, PlacementKind, PlacementNode, Printer, Speller, TextEditor, block_fields,
                   drag_solid, print_rotations, quoted, spell_rotations)


class Mesh(PlacementNode):
    """A mesh proxy (OBJ/PLY/GLB/STL) placed in world metres."""

    kind: Literal["mesh"] = "mesh"
    path: str
    position: Vec3 = (0.0, 0.0, 0.0)
    scale: Annotated[float, Field(ge=MIN_SCALE, le=MAX_SCALE, allow_inf_nan=False)] = 1.0
    yaw: Angle = 0.0
    pitch: Angle = 0.0
    roll: Angle = 0.0


def mesh(path: str | Path, position: Sequence[float] = (0.0, 0.0, 0.0), scale: float = 1.0, yaw: float = 0.0,
         pitch: float = 0.0, roll: float = 0.0) -> Mesh:
    return build(Mesh, path=str(path), position=tuple(position), scale=scale, yaw=yaw, pitch=pitch, roll=roll)


class Kind(PlacementKind):
    keyword = "mesh"
    usage = 'mesh "..."'
    node = Mesh
    build = staticmethod(mesh)
    control_word = "Mesh"
    solid = True
    mesh_file = "path"
    origin = "position"

    def lower(self, lw: Lowerer, st: Any, pf: Any) -> Mesh | None:
        fields, raws = block_fields(lw, st)
        if fields is None:
            return None
        path = lw.path(st.args[0], pf, "mesh")
        if path is None:
            return None
        fields["path"], raws["path"] = path, st.args[0]
        return lw.make(Mesh, st, fields, raws)

    def print(self, pr: Printer, p: Any) -> str:
        fields = []
        if "position" in p._locs or p.position != (0.0, 0.0, 0.0):
            fields.append(f"position {pr.vec(p, 'position', p.position)}")
        if "scale" in p._src or p.scale != 1.0:
            fields.append(f"scale {pr.val(p, 'scale', p.scale)}")
        fields += print_rotations(pr, p)
        return f"mesh {pr.string(p, 'path', p.path)}" + (" { " + " ".join(fields) + " }" if fields else "")

    def edit_text(self, sp: Speller, p: Any) -> str:
        fields = [f"position {sp.vec('position', p.position, 'length')}"]
        if p.scale != 1.0:
            fields.append(f"scale {sp.n('scale', p.scale, 'plain')}")
        return f"mesh {quoted(p.path)} {{ " + " ".join(fields + spell_rotations(sp, p)) + " }"

    def drag(self, ed: TextEditor, subj: Any, p: Any, fields: dict[str, Any], axes: tuple[int, int]) -> None:
        drag_solid(ed, subj, p, fields, ("position",), {**{k: "angle" for k in ROTATIONS}, "scale": "plain"})

    def from_bbox(self, bbox: tuple[float, float, float, float], stand: Any) -> Mesh:
        raise SigmaError("switching to a mesh needs a mesh file: write `mesh \"file.obj\"` in the source pane")

    def pose(self, p: Any) -> tuple[Any, float, float, float, Any]:
        return p.position, p.yaw, p.pitch, p.roll, p.scale

    def example(self, rng: random.Random) -> str:
        pos = ", ".join(f"{rng.uniform(-1, 1):.2f}" for _ in range(3))
        scale, yaw = f"{rng.uniform(0.2, 2):.2f}", rng.randint(0, 90)
        return f"mesh \"meshes/vase.obj\" {{ position ({pos}) scale {scale} yaw {yaw} deg }}"
