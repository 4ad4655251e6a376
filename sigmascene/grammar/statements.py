"""The located pieces of a parsed file: values (Scalar, Text, Vec) and statements, each with where it stands
(line and column for messages, character span for the editor). The parser (parser.py) makes them; lowering reads
them — a module of its own so both depend on it and neither on the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lark import Token

from ..errors import Diagnostic, SourceLoc

# Every piece carries its `span`: (start, end) character offsets in the file's text, end exclusive, so the editor
# replaces exactly a value's characters (a number with its unit, a whole statement) without tokenizing again.
Span = tuple[int, int]


@dataclass
class Scalar:
    number: float | None  # None when the value is a $param reference
    param: str | None
    unit: str | None
    text: str  # as written, e.g. "30 deg", "$rug_x"
    loc: SourceLoc
    unit_loc: SourceLoc | None = None
    span: Span = (0, 0)


@dataclass
class Text:
    value: str | None
    param: str | None
    text: str
    loc: SourceLoc
    span: Span = (0, 0)


@dataclass
class Vec:
    items: list[Scalar]
    loc: SourceLoc
    span: Span = (0, 0)


Value = Scalar | Text | Vec


@dataclass
class Stmt:
    """A statement or block item: its rule name (`subject`, `s_ref`, `f_yaw`, ...) and where it stands.
    The subclasses name what each kind carries, so lowering reads `st.name`, `st.value`, not `args[1]`."""

    kind: str
    loc: SourceLoc
    end: tuple[int, int]  # (line, column) just past the statement, for attaching trailing comments
    span: Span


@dataclass
class ValueStmt(Stmt):
    """`KEYWORD value`: version, seed, prompt, compose, include, ref, caption, depth, depth_map, camera items
    and the fields of placement blocks."""

    value: Value


@dataclass
class CanvasStmt(Stmt):
    width: Scalar
    height: Scalar


@dataclass
class ParamStmt(Stmt):
    name: str
    name_loc: SourceLoc
    value: Scalar | Text


@dataclass
class BlockStmt(Stmt):
    """`camera { ... }`: nothing but items."""

    items: list[Stmt]


@dataclass
class PlacementStmt(Stmt):
    """A placement statement of any kind (kind `s_<keyword>`): its values in order (`args`) and the fields of
    its `{ ... }` block (`items`); the kind's own module (scene/kinds/) gives them meaning."""

    args: list[Value]
    items: list[Stmt]

    @property
    def keyword(self) -> str:
        return self.kind[2:]


@dataclass
class RelationStmt(Stmt):
    """`behind NAME` / `in_front_of NAME` (kind s_behind / s_in_front_of)."""

    target: str
    target_loc: SourceLoc
    target_span: Span


@dataclass
class SubjectStmt(Stmt):
    name: str
    name_loc: SourceLoc
    name_span: Span
    items: list[Stmt]
    broken: bool = False  # a syntax error inside it was skipped: what is left of it is checked, not built


@dataclass
class ParsedFile:
    path: str
    stmts: list[Stmt]
    comments: list[Token]
    errors: list[Diagnostic] = field(default_factory=list)  # syntax errors recovered from, in file order
    broken: dict[str, SourceLoc] = field(default_factory=dict)  # subjects a syntax error removed or cut
    cut: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)  # blanked (line, col) spans

    def touched(self, st: Stmt) -> bool:
        """True when recovery blanked part of `st` (its value would be a consequence of the syntax error)."""
        a, b = (st.loc.line, st.loc.column), st.end
        return any(s < b and a < e for s, e in self.cut)
