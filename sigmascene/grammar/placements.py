"""Lowering of the five placement statements (box2d, box3d, mask, polygon, mesh) into IR nodes."""

from __future__ import annotations

from typing import Any

from ..scene import Box2D, Box3D, Mask, Mesh, Polygon
from .lowering import Lowering
from .parser import BlockStmt, MeshStmt, ParsedFile, PolygonStmt, Scalar, Stmt, Text, ValueStmt

_BLOCK_FIELDS = {"f_center": ("center", "length"), "f_size": ("size", "length"), "f_position": ("position", "length"),
                 "f_scale": ("scale", "plain"), "f_yaw": ("yaw", "angle"), "f_pitch": ("pitch", "angle"),
                 "f_roll": ("roll", "angle")}


def lower_placement(lw: Lowering, it: Stmt, pf: ParsedFile) -> Any:
    canvas = lw.scene.canvas
    if it.kind == "s_box2d":
        assert isinstance(it, ValueStmt)
        v = it.value
        vals = lw.vec(v, "coord", 4, "box2d (x0, y0, x1, y1)",
                      axes=(canvas.width, canvas.height, canvas.width, canvas.height))
        if vals is None:
            return None
        coords = dict(zip(("x0", "y0", "x1", "y1"), vals))
        node = lw.make(Box2D, it, coords, {})
        if node is not None:
            _record_components(lw, node, ("x0", "y0", "x1", "y1"), v, vals)
        return node
    if isinstance(it, PolygonStmt):
        points, ok = [], True
        for v in it.points:
            p = lw.vec(v, "coord", 2, "a polygon point (x, y)", axes=(canvas.width, canvas.height))
            ok = ok and p is not None
            points.append(p)
        if not ok:
            return None
        node = lw.make(Polygon, it, {"points": points}, {})
        if node is not None:
            for i, v in enumerate(it.points):
                lw.record(node, f"points.{i}", v, points[i])
        return node
    if it.kind == "s_mask":
        assert isinstance(it, ValueStmt) and isinstance(it.value, Text)  # the grammar: mask "path"
        path = lw.path(it.value, pf, "mask")
        return None if path is None else lw.make(Mask, it, {"path": path}, {"path": it.value})
    assert isinstance(it, (BlockStmt, MeshStmt))
    fields, raws = _block_fields(lw, it)
    if fields is None:
        return None
    if it.kind == "s_box3d":
        missing = [k for k in ("center", "size") if k not in fields]
        if missing:
            lw.error(f"box3d needs {' and '.join(missing)}", it.loc,
                     "box3d { center (x, y, z)  size (w, h, d)  yaw 0 deg }")
            return None
        return lw.make(Box3D, it, fields, raws)
    assert isinstance(it, MeshStmt)
    path = lw.path(it.path, pf, "mesh")
    if path is None:
        return None
    fields["path"], raws["path"] = path, it.path
    return lw.make(Mesh, it, fields, raws)


def _block_fields(lw: Lowering, it: BlockStmt | MeshStmt) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    fields: dict[str, Any] = {}
    raws: dict[str, Any] = {}
    ok = True
    for f in it.items:
        name, dim = _BLOCK_FIELDS[f.kind]
        if name in raws:
            lw.error(f"{name} is given twice", f.loc, related=[("first given here", raws[name].loc)])
            ok = False
            continue
        assert isinstance(f, ValueStmt)
        raws[name] = f.value
        if name in ("center", "size", "position"):
            fields[name] = lw.vec(f.value, dim, 3, name)
        else:
            assert isinstance(f.value, Scalar)  # the grammar: a number or a $param
            fields[name] = lw.num(f.value, dim)
        ok = ok and fields[name] is not None
    return (fields if ok else None), raws


def _record_components(lw: Lowering, node: Any, names: tuple[str, ...], vec: Any, vals: tuple) -> None:
    node._locs["box"] = vec.loc
    for name, s, val in zip(names, vec.items, vals):
        node._src[name] = (s.text, val)
        node._locs[name] = s.loc
