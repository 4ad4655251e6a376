"""Picture edits as changes to the `.sigma` text at the spans the parser recorded on each node.

Every parsed value and statement carries its (start, end) character offsets, and lowering keeps them on the node
(`Node._spans`), so the editor never tokenizes the text again.

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
from ..scene import KINDS, MENTION_RE, NAME_RE, Node, Scene, Subject

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
    def _own(self, node: Node, key: str | None = None) -> tuple[int, int]:
        """The (start, end) offsets of a node's statement (key None) or of one of its values, as the parser
        recorded them; refused when that text is in an included file."""
        loc = node.loc if key is None else node._locs.get(key, node.loc if key in node._spans else None)
        span = node._spans.get("" if key is None else key)
        if loc is None or span is None:
            raise SigmaError(f"the editor cannot find where {key or 'this'} is written")
        if loc.file != self.file:
            raise SigmaError(f"this is written in {loc.file}, an included file; open that file to edit it",
                             hint=f"sigmascene edit {loc.file}")
        return span

    def item(self, subj: Subject, key: str) -> tuple[int, int]:
        """The (start, end) of one subject item's whole statement (`depth 3.2`, `ref "..."`, the placement)."""
        self._own(subj)
        span = subj._spans.get("item:" + key)
        if span is None:
            raise SigmaError(f"the editor cannot find where {key} is written")
        return span

    def placement_text(self, node: Node, old: Node | None = None) -> str:
        return placement_text(node, old)

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
        s, e = self._own(node, key)
        unit = _unit(self.text[s:e])
        if written.startswith("$"):
            self._param_number(written.split()[0][1:], value, dim, unit, axis)
            return
        self.replace(s, e, fmt_number(to_unit(value, unit, axis), dim, unit) + (f" {unit}" if unit else ""))

    def _param_number(self, name: str, value: float, dim: str, use_unit: str | None, axis: int | None) -> None:
        p = self.scene.param(name)
        if p is None:
            raise SigmaError(f"param ${name} is not defined")
        s, e = self._own(p, "value")
        unit = _unit(self.text[s:e])
        inner = self.text[s:e].split()[0]
        if inner.startswith("$"):  # a param defined by another param: change the one that holds the number
            self._param_number(inner[1:], value, dim, use_unit or unit, axis)
            return
        eff = use_unit or unit
        self.replace(s, e, fmt_number(to_unit(value, eff, axis), dim, eff) + (f" {unit}" if unit else ""))

    def string(self, node: Node, key: str, value: str) -> None:
        written = node._src.get(key, ("", None))[0]
        s, e = self._own(node, key)
        if written.startswith("$"):
            p = self.scene.param(written[1:])
            if p is None:
                raise SigmaError(f"param {written} is not defined")
            s, e = self._own(p, "value")
        self.replace(s, e, json.dumps(value, ensure_ascii=False))

    def insert_item(self, subj: Subject, after_key: str, line: str) -> None:
        """Add `line` (e.g. `depth 3.2`) as a new item of a subject, after the item `after_key`."""
        item_start, end = self.item(subj, after_key)
        nl = self.text.find("\n", end)
        nl = len(self.text) if nl < 0 else nl
        if self.text[end:nl].strip() == "" or self.text[end:nl].lstrip().startswith("#"):
            end = nl  # after the item's trailing comment, which stays on its line
        self.replace(end, end, "\n" + indent_of(self.text, item_start) + line)

    def replace_item(self, subj: Subject, node: Node, new: str) -> None:
        """Replace a whole subject item (a placement) by new text."""
        start, end = self._own(node)
        self.replace(start, end, new)

    def remove_statement(self, start: int, end: int) -> None:
        """Delete a statement, and its line when nothing else stands before it there."""
        ls = line_start(self.text, start)
        self.replace(ls - 1 if self.text[ls:start].strip() == "" and ls > 0 else start, end, "")


def line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def indent_of(text: str, pos: int) -> str:
    s = line_start(text, pos)
    m = re.match(r"[ \t]*", text[s:])
    return m.group(0) if m else ""


def _unit(written: str) -> str | None:
    """The unit of a number as written (`51 px` -> px), None without one."""
    parts = written.split()
    return parts[1] if len(parts) > 1 else None


# -- placements ---------------------------------------------------------------------------------------------
def set_placement_fields(ed: TextEdit, subj: Subject, fields: dict[str, Any]) -> None:
    """Change fields of the subject's current placement kind, in canonical units."""
    p, canvas = subj.placement, ed.scene.canvas
    KINDS[p.kind].drag(ed, subj, p, fields, (canvas.width, canvas.height))


class _Speller:
    """The editor's way of writing values: its rounding, and the old spelling of a value that did not change."""

    def __init__(self, old: Any):
        self.old = old

    def fmt(self, value: float, dim: str) -> str:
        return fmt_number(value, dim)

    def n(self, key: str, v: float, dim: str, unit: str | None = None) -> str:
        if self.old is not None and key in self.old._src and self.old._src[key][1] == v:
            return self.old._src[key][0]
        return fmt_number(v, dim) + (f" {unit}" if unit else "")

    def vec(self, key: str, vals: Any, dim: str) -> str:
        return "(" + ", ".join(self.n(f"{key}.{i}", v, dim) for i, v in enumerate(vals)) + ")"


def placement_text(p: Any, old: Any = None) -> str:
    """A placement item printed with the editor's rounding, reusing the old spelling of unchanged values."""
    return KINDS[p.kind].edit_text(_Speller(old), p)


def set_depth(ed: TextEdit, subj: Subject, depth: float | None) -> None:
    if depth is None:
        if subj.depth is not None:
            ed.remove_statement(*ed.item(subj, "depth"))
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
    ed.replace(*ed._own(subj, "name"), new)
    for other in ed.scene.subjects:
        for r in other.relations:
            if r.target == old and r.loc is not None and r.loc.file == ed.file:
                ed.replace(*ed._own(r, "target"), new)
    for field in ("prompt", "compose", "instruction"):
        value = getattr(ed.scene, field)
        if value and any(m.group(1) == old for m in MENTION_RE.finditer(value)):
            ed.string(ed.scene, field, re.sub(rf"@{old}\b", f"@{new}", value))


def convert_placement(kind: str, subj: Subject, scene: Scene, bbox: tuple[float, float, float, float],
                      depth: float | None) -> Any:
    """The current region as another placement kind: flat kinds keep the on-screen box; solid kinds stand a
    box on the floor (y = 0) under that box, at the subject's depth, sized to cover it."""
    if kind not in KINDS:
        raise SigmaError(f"no placement kind named {kind!r}")

    def stand() -> tuple[Any, Any]:
        from .camera import box_under

        return box_under(scene, bbox, depth or 3.0)

    return KINDS[kind].from_bbox(bbox, stand)
