"""Picture edits as changes to the `.sigma` text at the parser's located spans.

Why text and not the printer: the file is the truth, and a user's file holds things a re-print would tidy
away (their spacing, a `51 px` they chose, a number that came from `$rug_x`). Each change here replaces exactly
the characters of one value, keeping its unit (`px`, `cm`, `rad` are converted back); a value written as a
`$param` changes the `param` statement instead, so every use of that param follows.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..errors import SigmaError
from ..scene import MENTION_RE, NAME_RE, Box2D, Box3D, Mask, Mesh, Node, Polygon, Scene, Subject
from .spans import (indent_of, item_end, line_start, loc_offset, param_value_start,
                    scalar_span, token_span, tokens)

# Decimals written per kind of value: sub-pixel at 4096 px, millimetres, tenths of a degree.
DECIMALS = {"coord": 4, "length": 3, "angle": 1, "plain": 3, "px": 1, "cm": 1, "rad": 4}


def fmt_number(value: float, dim: str, unit: str | None = None) -> str:
    nd = DECIMALS.get(unit or "", DECIMALS[dim])
    v = round(float(value), nd)
    if v == 0:
        v = 0.0
    if v.is_integer():
        return str(int(v))
    return f"{v:.{nd}f}".rstrip("0").rstrip(".")


def to_unit(value: float, unit: str | None, axis: int | None) -> float:
    if unit == "cm":
        return value * 100.0
    if unit == "rad":
        return math.radians(value)
    if unit == "px" and axis:
        return value * axis
    return value


class TextEdit:
    """Collects replacements in one file's text, then applies them back to front so offsets stay valid."""

    def __init__(self, text: str, scene: Scene):
        self.text, self.scene = text, scene
        self.file = scene._file
        self.changes: list[tuple[int, int, str]] = []

    # -- plumbing ---------------------------------------------------------------------------------------------
    def _own(self, node: Node, key: str | None = None) -> int:
        loc = node.loc if key is None else node._locs.get(key)
        if loc is None:
            raise SigmaError(f"the editor cannot find where {key or 'this'} is written")
        if loc.file != self.file:
            raise SigmaError(f"this is written in {loc.file}, an included file; open that file to edit it",
                             hint=f"sigmascene edit {loc.file}")
        return loc_offset(self.text, loc)

    def replace(self, start: int, end: int, new: str) -> None:
        for s, e, _ in self.changes:
            if start < e and s < end:
                raise SigmaError("two edits touch the same text; send them one at a time")
        self.changes.append((start, end, new))

    def result(self) -> str:
        out = self.text
        for s, e, new in sorted(self.changes, key=lambda c: c[0], reverse=True):
            out = out[:s] + new + out[e:]
        return out

    # -- values -----------------------------------------------------------------------------------------------
    def number(self, node: Node, key: str, value: float, dim: str, axis: int | None = None) -> None:
        """Rewrite one located number (its unit kept); a `$param` there changes the param's definition."""
        written = node._src.get(key, ("", None))[0]
        start = self._own(node, key)
        s, e, unit = scalar_span(self.text, start)
        if written.startswith("$"):
            self._param_number(written.split()[0][1:], value, dim, unit, axis)
            return
        self.replace(s, e, fmt_number(to_unit(value, unit, axis), dim, unit) + (f" {unit}" if unit else ""))

    def _param_number(self, name: str, value: float, dim: str, use_unit: str | None, axis: int | None) -> None:
        p = self.scene.param(name)
        if p is None:
            raise SigmaError(f"param ${name} is not defined")
        start = param_value_start(self.text, self._own(p))
        s, e, unit = scalar_span(self.text, start)
        inner = self.text[s:e].split()[0]
        if inner.startswith("$"):  # a param defined by another param: change the one that holds the number
            self._param_number(inner[1:], value, dim, use_unit or unit, axis)
            return
        eff = use_unit or unit
        self.replace(s, e, fmt_number(to_unit(value, eff, axis), dim, eff) + (f" {unit}" if unit else ""))

    def string(self, node: Node, key: str, value: str) -> None:
        written = node._src.get(key, ("", None))[0]
        s, e = token_span(self.text, self._own(node, key))
        if written.startswith("$"):
            p = self.scene.param(written[1:])
            if p is None:
                raise SigmaError(f"param {written} is not defined")
            ps = param_value_start(self.text, self._own(p))
            s, e = token_span(self.text, ps)
        self.replace(s, e, json.dumps(value, ensure_ascii=False))

    def insert_item(self, subj: Subject, after_key: str, line: str) -> None:
        """Add `line` (e.g. `depth 3.2`) as a new item of a subject, after the item `after_key`."""
        if after_key == "placement":
            item_start = self._own(subj.placement)
        else:
            item_start = _item_start(self.text, self._own(subj, after_key))
        end = item_end(self.text, item_start)
        nl = self.text.find("\n", end)
        nl = len(self.text) if nl < 0 else nl
        if self.text[end:nl].strip() == "" or self.text[end:nl].lstrip().startswith("#"):
            end = nl  # after the item's trailing comment, which stays on its line
        self.replace(end, end, "\n" + indent_of(self.text, item_start) + line)

    def replace_item(self, subj: Subject, node: Node, new: str) -> None:
        """Replace a whole subject item (a placement) by new text."""
        start = self._own(node)
        self.replace(start, item_end(self.text, start), new)


def _item_start(text: str, value_start: int) -> int:
    """Start of the item keyword before a value (`ref "x"` from the string's offset)."""
    ls = line_start(text, value_start)
    toks = [t for t in tokens(text[:value_start], ls)]
    words = [t for t in toks if t.kind == "word"]
    return words[-1].start if words else value_start


# -- placements ---------------------------------------------------------------------------------------------
AXIS_DIM = {"x0": 0, "y0": 1, "x1": 0, "y1": 1}


def set_placement_fields(ed: TextEdit, subj: Subject, fields: dict[str, Any]) -> None:
    """Change fields of the subject's current placement kind, in canonical units."""
    p, canvas = subj.placement, ed.scene.canvas
    axes = (canvas.width, canvas.height)
    if isinstance(p, Box2D):
        for k in ("x0", "y0", "x1", "y1"):
            if k in fields and float(fields[k]) != getattr(p, k):
                ed.number(p, k, float(fields[k]), "coord", axes[AXIS_DIM[k]])
    elif isinstance(p, Polygon):
        pts = [tuple(map(float, pt)) for pt in fields.get("points", p.points)]
        if len(pts) != len(p.points):
            ed.replace_item(subj, p, placement_text(Polygon(points=pts), old=p))
        else:
            for i, (old, new) in enumerate(zip(p.points, pts)):
                for j in (0, 1):
                    if old[j] != new[j]:
                        ed.number(p, f"points.{i}.{j}", new[j], "coord", axes[j])
    elif isinstance(p, (Box3D, Mesh)):
        vec_key = "center" if isinstance(p, Box3D) else "position"
        vecs = (vec_key, "size") if isinstance(p, Box3D) else (vec_key,)
        missing: list[str] = []
        for k in vecs:
            if k in fields:
                for i, v in enumerate(fields[k]):
                    if float(v) != getattr(p, k)[i]:
                        if f"{k}.{i}" in p._locs:
                            ed.number(p, f"{k}.{i}", float(v), "length")
                        elif k not in missing:
                            missing.append(k)
        for k in ("yaw", "pitch", "roll") + (("scale",) if isinstance(p, Mesh) else ()):
            if k in fields and float(fields[k]) != getattr(p, k):
                if k in p._locs:
                    ed.number(p, k, float(fields[k]), "plain" if k == "scale" else "angle")
                else:
                    missing.append(k)
        if missing:  # a field the file does not write yet: print the placement again with the new values
            data = p.model_dump()
            data.update({k: fields[k] for k in fields if k in data})
            rebuilt = type(p)(**data)
            ed.replace_item(subj, p, placement_text(rebuilt, old=p))
    elif isinstance(p, Mask) and "path" in fields:
        ed.string(p, "path", str(fields["path"]))


def placement_text(p: Any, old: Any = None) -> str:
    """A placement item printed with the editor's rounding, reusing the old spelling of unchanged values."""

    def n(key: str, v: float, dim: str, unit: str | None = None) -> str:
        if old is not None and key in old._src and old._src[key][1] == v:
            return old._src[key][0]
        return fmt_number(v, dim) + (f" {unit}" if unit else "")

    def vec(key: str, vals: Any, dim: str) -> str:
        return "(" + ", ".join(n(f"{key}.{i}", v, dim) for i, v in enumerate(vals)) + ")"

    if isinstance(p, Box2D):
        return "box2d (" + ", ".join(fmt_number(getattr(p, k), "coord") for k in ("x0", "y0", "x1", "y1")) + ")"
    if isinstance(p, Polygon):
        olds = list(old.points) if isinstance(old, Polygon) else []

        def point(pt: tuple) -> str:
            j = olds.index(tuple(pt)) if tuple(pt) in olds else None  # an unchanged point keeps its spelling
            if j is not None and f"points.{j}.0" in old._src:
                return "(" + ", ".join(old._src[f"points.{j}.{i}"][0] for i in (0, 1)) + ")"
            return "(" + ", ".join(fmt_number(v, "coord") for v in pt) + ")"

        return "polygon " + " ".join(point(pt) for pt in p.points)
    if isinstance(p, Mask):
        return f"mask {json.dumps(p.path, ensure_ascii=False)}"
    fields = []
    if isinstance(p, Box3D):
        head = "box3d"
        fields += [f"center {vec('center', p.center, 'length')}", f"size {vec('size', p.size, 'length')}"]
    else:
        head = f"mesh {json.dumps(p.path, ensure_ascii=False)}"
        fields.append(f"position {vec('position', p.position, 'length')}")
        if p.scale != 1.0:
            fields.append(f"scale {n('scale', p.scale, 'plain')}")
    for k in ("yaw", "pitch", "roll"):
        if getattr(p, k) != 0.0 or (old is not None and k in old._src):
            fields.append(f"{k} {n(k, getattr(p, k), 'angle', 'deg')}")
    return head + " { " + " ".join(fields) + " }"


def set_depth(ed: TextEdit, subj: Subject, depth: float | None) -> None:
    if depth is None:
        if subj.depth is not None:
            s = _item_start(ed.text, ed._own(subj, "depth"))
            e = item_end(ed.text, s)
            ls = line_start(ed.text, s)
            ed.replace(ls - 1 if ed.text[ls:s].strip() == "" and ls > 0 else s, e, "")
        return
    if depth <= 0:
        raise SigmaError("depth must be positive (metres from the camera)")
    if subj.depth is not None:
        ed.number(subj, "depth", depth, "length")
    else:
        ed.insert_item(subj, "placement", f"depth {fmt_number(depth, 'length')}")


def set_caption(ed: TextEdit, subj: Subject, caption: str) -> None:
    if subj.caption is not None:
        ed.string(subj, "caption", caption)
    else:
        ed.insert_item(subj, "ref", f"caption {json.dumps(caption, ensure_ascii=False)}")


def rename(ed: TextEdit, subj: Subject, new: str) -> None:
    """Rename a subject everywhere the file names it: its block, relations, and `@name` in
    prompt/compose/instruction."""
    if not NAME_RE.match(new):
        raise SigmaError(f"{new!r} is not a subject name (letters, digits, _; not starting with a digit)")
    if ed.scene.subject(new) is not None:
        raise SigmaError(f"a subject named '{new}' already exists")
    old = subj.name
    s, e = token_span(ed.text, ed._own(subj, "name"))
    ed.replace(s, e, new)
    for other in ed.scene.subjects:
        for r in other.relations:
            if r.target == old and r.loc is not None and r.loc.file == ed.file:
                rs, re_ = token_span(ed.text, ed._own(r, "target"))
                ed.replace(rs, re_, new)
    for field in ("prompt", "compose", "instruction"):
        value = getattr(ed.scene, field)
        if value and any(m.group(1) == old for m in MENTION_RE.finditer(value)):
            ed.string(ed.scene, field, re.sub(rf"@{old}\b", f"@{new}", value))


def convert_placement(kind: str, subj: Subject, scene: Scene, bbox: tuple[float, float, float, float],
                      depth: float | None) -> Any:
    """The current region as another placement kind: 2D kinds keep the on-screen box; 3D kinds stand a
    box on the floor (y = 0) under that box, at the subject's depth, sized to cover it."""
    x0, y0, x1, y1 = bbox
    if kind == "box2d":
        return Box2D(x0=x0, y0=y0, x1=x1, y1=y1)
    if kind == "polygon":
        return Polygon(points=[(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    if kind in ("box3d", "mesh"):
        from .camera import box_under
        center, size = box_under(scene, bbox, depth or 3.0)
        if kind == "box3d":
            return Box3D(center=center, size=size)
        raise SigmaError("switching to a mesh needs a mesh file: write `mesh \"file.obj\"` in the source pane")
    raise SigmaError(f"switching to {kind} needs a file: write `{kind} \"file.png\"` in the source pane")
