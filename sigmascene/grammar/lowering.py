"""The state of lowering one scene file and the readers every statement handler shares: numbers with units and
`$params`, vectors, strings, paths (rebased and confined), pydantic nodes with located errors, and the spelling
and location each value leaves on its node.

A base class of its own so the handlers that live in their own modules (background.py, the kinds) depend on
it, not on the driver in lower.py that calls them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError

from ..errors import Diagnostic, SceneValidationError, SigmaError, SourceLoc
from ..core.paths import confine
from ..scene import Node, Scene
from .comments import Anchor
from .params import SET_LABEL, ParamTable
from .parser import ParsedFile, Scalar, Stmt, Text, Value, Vec

_UNITS = {"length": ("m", "cm"), "angle": ("deg", "rad"), "coord": ("px",), "pixels": ("px",), "plain": ()}


class Lowering:
    """Collects diagnostics instead of raising them, so one run reports every problem of a file."""

    def __init__(self, root: ParsedFile, base_dir: Path, overrides: Mapping[str, str], fragment: bool,
                 root_dir: Path | None = None, override_label: str = SET_LABEL):
        self.root, self.base_dir, self.overrides, self.fragment = root, base_dir, overrides, fragment
        self.root_dir = root_dir
        self.diags: list[Diagnostic] = []
        self.kinds: dict[int, type[SigmaError]] = {}
        self.parsed: dict[Path, ParsedFile] = {}
        self.scene = Scene()
        self.scene._file, self.scene._base_dir, self.scene._root = root.path, base_dir, root_dir
        self.first: dict[str, SourceLoc] = {}
        # subjects written in the file but not built (a syntax or value error): not "unknown" where named
        self.failed: dict[str, SourceLoc] = {}
        self.cut_relations: list[tuple[str, Any]] = []  # (subject, Relation) of subjects not built
        self.params = ParamTable(self.error, self.bad_value, override_label)
        self.anchors: list[Anchor] = []
        self.comments: dict[str, list] = {}

    def absorb(self, err: SigmaError) -> None:
        """Collect another stage's errors, remembering their kind (an AssetError stays one when it is alone)."""
        self.diags += err.diagnostics
        self.kinds.update((id(d), type(err)) for d in err.diagnostics)

    def error(self, msg: str, loc: SourceLoc | None, hint: str | None = None, related=None) -> None:
        self.diags.append(Diagnostic(msg, loc, hint, related=related or []))

    def bad_value(self, msg: str, hint: str | None = None) -> None:
        """A mistake in a value given from outside the file (`--set`, `with_params`): a SceneValidationError."""
        self.error(msg, None, hint)
        self.kinds[id(self.diags[-1])] = SceneValidationError

    def once(self, key: str, st: Stmt, what: str) -> bool:
        if key in self.first:
            self.error(f"{what} is given twice", st.loc, f"keep one `{key}` statement",
                       related=[("first given here", self.first[key])])
            return False
        self.first[key] = st.loc
        return True

    # -- values -----------------------------------------------------------------------------------------------
    def num(self, s: Scalar, dim: str, axis: int | None = None) -> float | None:
        value, unit = s.number, s.unit
        if s.param is not None:
            resolved = self.params.lookup(s.param, s.loc)
            if resolved is None:
                return None
            if isinstance(resolved[0], str):
                self.error(f"${s.param} is a string, but a number is needed here", s.loc)
                return None
            if s.unit and resolved[1]:
                self.error(f"${s.param} already carries the unit {resolved[1]}", s.loc)
                return None
            value, unit = resolved[0], s.unit or resolved[1]
        if value is None:  # not reached: a Scalar holds a number or a $param
            return None
        if unit is not None and unit not in _UNITS[dim]:
            want = {"length": "a length (m or cm)", "angle": "an angle (deg or rad)",
                    "coord": "a canvas fraction or px", "pixels": "whole pixels", "plain": "a plain number"}[dim]
            self.error(f"unit '{unit}' does not fit here: expected {want}", s.unit_loc or s.loc)
            return None
        if not math.isfinite(value):
            self.error("number is out of range", s.loc)
            return None
        if unit == "cm":
            return value / 100.0
        if unit == "rad":
            return math.degrees(value)
        if unit == "px" and dim == "coord":
            if axis is None:  # every coord caller passes the canvas side
                raise ValueError("a px coordinate needs the canvas side it is a fraction of")
            return value / axis
        return value

    def integer(self, s: Scalar, dim: str, what: str) -> int | None:
        v = self.num(s, dim)
        if v is None:
            return None
        if v != int(v):
            self.error(f"{what} must be a whole number, got {s.text}", s.loc)
            return None
        return int(v)

    def vec(self, v: Value, dim: str, n: int, what: str, axes: tuple[int, ...] | None = None):
        if not isinstance(v, Vec) or len(v.items) != n:
            got = len(v.items) if isinstance(v, Vec) else 1
            self.error(f"{what} takes {n} numbers in parentheses, got {got}", v.loc)
            return None
        out = [self.num(s, dim, axes[i] if axes else None) for i, s in enumerate(v.items)]
        return None if any(x is None for x in out) else tuple(out)

    def text(self, t: Text) -> str | None:
        if t.param is None:
            return t.value
        resolved = self.params.lookup(t.param, t.loc)
        if resolved is None:
            return None
        if not isinstance(resolved[0], str):
            self.error(f"${t.param} is a number, but a \"string\" is needed here", t.loc)
            return None
        return resolved[0]

    def path(self, t: Text, pf: ParsedFile, what: str) -> str | None:
        """A path as the root scene sees it: files named by an included file are rebased onto the root's folder.
        In confined mode a path that leads outside the root is an error here, where its location is known."""
        p = self.text(t)
        if p is None:
            return None
        try:
            confine(self.dir_of(pf) / p, self.root_dir, t.loc, what, p)
        except SigmaError as err:
            self.absorb(err)
            return None
        if os.path.isabs(p) or pf is self.root or pf.path == self.root.path:
            return p
        return Path(os.path.relpath(self.dir_of(pf) / p, self.base_dir)).as_posix()

    def dir_of(self, pf: ParsedFile) -> Path:
        return self.base_dir if pf.path == self.root.path or pf.path.startswith("<") else Path(pf.path).parent

    def display_path(self, target: Path) -> Path:
        try:
            return Path(os.path.relpath(target))
        except ValueError:
            return target

    # -- nodes ------------------------------------------------------------------------------------------------
    def make(self, cls: type[Node], st: Stmt | None, fields: dict[str, Any], raws: dict[str, Any]) -> Any:
        """Build a node, turning pydantic's complaints into located diagnostics; None if it could not be built."""
        if any(v is None and k in raws for k, v in fields.items()):
            return None  # a value already failed with its own error
        loc = st.loc if st is not None else None
        try:
            node = cls(**{k: v for k, v in fields.items() if v is not None or k not in raws})
        except ValidationError as err:
            for e in err.errors():
                key = e["loc"][0] if e["loc"] else None
                raw = raws.get(key) if isinstance(key, str) else None
                if raw is not None and isinstance(raw, Vec) and len(e["loc"]) > 1 and isinstance(e["loc"][1], int) \
                        and e["loc"][1] < len(raw.items):
                    raw = raw.items[e["loc"][1]]
                msg = e["msg"].removeprefix("Value error, ")
                if key and not e["msg"].startswith("Value error"):
                    msg = f"{key}: {msg[0].lower() + msg[1:]}"
                self.error(msg, raw.loc if raw is not None else loc)
            return None
        node._loc = loc
        if st is not None:
            node._spans[""] = st.span
        for key, raw in raws.items():
            self.record(node, key, raw, fields.get(key))
        return node

    def record(self, node: Node, key: str, raw: Any, value: Any) -> None:
        if isinstance(raw, Vec):
            node._locs[key], node._spans[key] = raw.loc, raw.span
            for i, s in enumerate(raw.items):
                node._src[f"{key}.{i}"] = (s.text, value[i] if value is not None else None)
                node._locs[f"{key}.{i}"], node._spans[f"{key}.{i}"] = s.loc, s.span
        elif isinstance(raw, (Scalar, Text)):
            node._locs[key], node._spans[key] = raw.loc, raw.span
            node._src[key] = (raw.text, value)

    def place(self, node: Node, st: Stmt, raws: dict[str, Any]) -> None:
        node._loc, node._spans[""] = st.loc, st.span
        for key, raw in raws.items():
            self.record(node, key, raw, getattr(node, key))

    def anchor(self, st: Stmt, node: Node, key: str) -> None:
        self.anchors.append(Anchor(st.loc.file, (st.loc.line, st.loc.column), st.end, node, key))
