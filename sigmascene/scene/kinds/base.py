"""What a placement kind is, in one place: the base class every kind module fills in.

A kind module (`scene/kinds/<keyword>.py`, named for its keyword in `grammar/sigma.lark`) holds the IR node, its
lowering from parsed statements, its printing (canonical for `fmt`, rounded for the editor), its editor drags
and kind switch, its coverage on the canvas (flat kinds) or its pose in the world (solid kinds), and a fuzz
generator. The parser, lowering, printer, compiler, editor, eval and fuzzer consult the registry
(`scene.kinds.KINDS`) instead of naming kinds, so a new kind touches the grammar, its module, the editor's handle
drawing (static/*.js) and the docs.

The kind modules sit on the scene floor, below everything that uses them, so what they need from higher floors
comes in as an argument: the lowering state, the printer and the text editor are used through the small
protocols below (grammar/lowering.py, grammar/printer.py and editor/edits.py implement them).

Coverage is hard-edged, never anti-aliased: routing maps must hold exact intensities (10, 20, ...) and a blended
edge pixel of 15 would route to no subject, or to the wrong one. A pixel belongs to a shape when its centre does
(pixel j spans [j, j+1), centre j + 0.5), the convention the 3D renderer's rasteriser follows too.
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol, Sequence

from ...errors import SigmaError, SourceLoc
from ..node import Node

if TYPE_CHECKING:
    import numpy as np  # imported where coverage is drawn, so `import sigmascene` stays light

# The fields a `{ ... }` block of a placement may hold (grammar rule name -> field, dimension of its value).
BLOCK_FIELDS = {"f_center": ("center", "length"), "f_size": ("size", "length"), "f_position": ("position", "length"),
                "f_scale": ("scale", "plain"), "f_yaw": ("yaw", "angle"), "f_pitch": ("pitch", "angle"),
                "f_roll": ("roll", "angle")}
VECTOR_FIELDS = ("center", "size", "position")
ROTATIONS = ("yaw", "pitch", "roll")


class PlacementNode(Node):
    """The base of every placement node: its `kind` (a Literal of its keyword in each kind) tells them apart."""

    kind: str


class Lowerer(Protocol):
    """The lowering state (grammar/lowering.py's Lowering) as a kind's `lower` uses it."""

    scene: Any

    def vec(self, v: Any, dim: str, n: int, what: str, axes: tuple[int, ...] | None = None) -> Any: ...
    def num(self, s: Any, dim: str, axis: int | None = None) -> float | None: ...
    def path(self, t: Any, pf: Any, what: str) -> str | None: ...
    def make(self, cls: type, st: Any, fields: dict[str, Any], raws: dict[str, Any]) -> Any: ...
    def record(self, node: Node, key: str, raw: Any, value: Any) -> None: ...
    def error(self, msg: str, loc: SourceLoc | None, hint: str | None = None, related: Any = None) -> None: ...


class Printer(Protocol):
    """The canonical printer (grammar/printer.py): a value as the user spelt it while it still means the same."""

    def val(self, node: Node, key: str, value: float, unit: str | None = None) -> str: ...
    def vec(self, node: Node, key: str, values: Any, unit: str | None = None) -> str: ...
    def string(self, node: Node, key: str, value: str) -> str: ...


class Speller(Protocol):
    """The editor's printing (editor/edits.py): its rounding, reusing `old`'s spelling of unchanged values."""

    old: Any

    def fmt(self, value: float, dim: str) -> str: ...
    def n(self, key: str, value: float, dim: str, unit: str | None = None) -> str: ...
    def vec(self, key: str, values: Any, dim: str) -> str: ...


class TextEditor(Protocol):
    """The editor's text edit (editor/edits.py's TextEdit) as a kind's `drag` uses it."""

    def number(self, node: Node, key: str, value: float, dim: str, axis: int | None = None) -> None: ...
    def string(self, node: Node, key: str, value: str) -> None: ...
    def replace_item(self, subj: Any, node: Node, new: str) -> None: ...
    def placement_text(self, node: Node, old: Node | None = None) -> str: ...


class PlacementKind:
    """One placement kind. Subclasses set the class attributes and override what their kind does."""

    keyword: ClassVar[str]  # the statement keyword, as in sigma.lark; also the node's `kind` and the module's name
    usage: ClassVar[str]  # its shape in one short phrase, for hints: `box3d { ... }`
    node: ClassVar[type[PlacementNode]]
    build: ClassVar[Callable[..., PlacementNode]]  # the Python API constructor, exported as sigmascene.<keyword>
    control_word: ClassVar[str]  # the eval set's control label for this kind (Mask, Bbox, 3D box, ...)
    solid: ClassVar[bool] = False  # drawn in 3D through the camera; else a flat region of the canvas
    coverage_file: ClassVar[str | None] = None  # a flat kind whose coverage is an image file: its field
    mesh_file: ClassVar[str | None] = None  # a solid kind drawn from a mesh file: its field (else a unit box)
    origin: ClassVar[str | None] = None  # a solid kind's field that places it in the world

    @property
    def files(self) -> dict[str, str]:
        """{field: what the file is} for every file this kind names."""
        return {f: self.keyword for f in (self.coverage_file, self.mesh_file) if f is not None}

    # -- language ----------------------------------------------------------------------------------------------
    def lower(self, lw: Lowerer, st: Any, pf: Any) -> Node | None:
        """The node for a parsed statement (`st.args`: its values in order; `st.items`: its block's fields),
        or None after reporting what is wrong through `lw.error`."""
        raise NotImplementedError

    def print(self, pr: Printer, node: Any) -> str:
        """The canonical text of one placement statement (`fmt`)."""
        raise NotImplementedError

    # -- editor ------------------------------------------------------------------------------------------------
    def edit_text(self, sp: Speller, node: Any) -> str:
        """The statement as the editor writes it when it replaces a whole placement."""
        raise NotImplementedError

    def drag(self, ed: TextEditor, subj: Any, node: Any, fields: dict[str, Any], axes: tuple[int, int]) -> None:
        """Change the fields the editor sent (canonical units) in the text."""
        raise NotImplementedError

    def from_bbox(self, bbox: tuple[float, float, float, float], stand: Callable[[], tuple[Any, Any]]) -> Node:
        """This kind made from the region's on-screen box (the editor's kind switch); `stand()` gives the
        (centre, size) of a box standing on the floor under it, for solid kinds."""
        raise SigmaError(f"switching to {self.keyword} needs a file: write `{self.keyword} \"file.png\"` in the "
                         f"source pane")

    # -- drawing -----------------------------------------------------------------------------------------------
    def coverage(self, node: Any, width: int, height: int) -> np.ndarray:
        """Canvas-sized boolean coverage of a flat shape (kinds with a coverage file are loaded by the compiler)."""
        raise TypeError(f"not a drawable flat placement: {type(node).__name__}")

    def pose(self, node: Any) -> tuple[Any, float, float, float, Any]:
        """A solid kind's (origin, yaw, pitch, roll, scale) in the world: the object matrix is T @ R @ S."""
        raise TypeError(f"not a solid placement: {type(node).__name__}")

    # -- fuzzing -----------------------------------------------------------------------------------------------
    def example(self, rng: random.Random) -> str:
        """A random valid statement of this kind (the fuzzer's seed corpus and property tests use it)."""
        raise NotImplementedError


# -- shared by the kinds ---------------------------------------------------------------------------------------
def block_fields(lw: Lowerer, st: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The values of a `{ ... }` block: (fields or None when one failed, the parsed values by field)."""
    fields: dict[str, Any] = {}
    raws: dict[str, Any] = {}
    ok = True
    for f in st.items:
        name, dim = BLOCK_FIELDS[f.kind]
        if name in raws:
            lw.error(f"{name} is given twice", f.loc, related=[("first given here", raws[name].loc)])
            ok = False
            continue
        raws[name] = f.value
        if name in VECTOR_FIELDS:
            fields[name] = lw.vec(f.value, dim, 3, name)
        else:
            fields[name] = lw.num(f.value, dim)
        ok = ok and fields[name] is not None
    return (fields if ok else None), raws


def print_rotations(pr: Printer, p: Any) -> list[str]:
    return [f"{k} {pr.val(p, k, getattr(p, k), 'deg')}" for k in ROTATIONS if k in p._src or getattr(p, k) != 0.0]


def spell_rotations(sp: Speller, p: Any) -> list[str]:
    return [f"{k} {sp.n(k, getattr(p, k), 'angle', 'deg')}" for k in ROTATIONS
            if getattr(p, k) != 0.0 or (sp.old is not None and k in sp.old._src)]


def quoted(path: str) -> str:
    return json.dumps(path, ensure_ascii=False)


def drag_solid(ed: TextEditor, subj: Any, p: Any, fields: dict[str, Any], vecs: Sequence[str],
               scalars: dict[str, str]) -> None:
    """Move/turn/resize a solid placement: numbers the file writes change in place; a field it does not write
    yet makes the whole statement print again with the new values."""
    missing: list[str] = []
    for k in vecs:
        if k in fields:
            for i, v in enumerate(fields[k]):
                if float(v) != getattr(p, k)[i]:
                    if f"{k}.{i}" in p._locs:
                        ed.number(p, f"{k}.{i}", float(v), "length")
                    elif k not in missing:
                        missing.append(k)
    for k, dim in scalars.items():
        if k in fields and float(fields[k]) != getattr(p, k):
            if k in p._locs:
                ed.number(p, k, float(fields[k]), dim)
            else:
                missing.append(k)
    if missing:
        data = p.model_dump()
        data.update({k: fields[k] for k in fields if k in data})
        ed.replace_item(subj, p, ed.placement_text(type(p)(**data), old=p))
