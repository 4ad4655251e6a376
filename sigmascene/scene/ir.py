"""The Scene IR: the one typed object that the parser, the Python builder, the compiler and the trainer share.

Values are stored resolved and in canonical units (metres, degrees, canvas fractions); how the user wrote them
(``$rug_x``, ``51 px``, ``0.5 rad``) is kept beside them as metadata so `fmt` can print the file back as written.
Metadata — source locations, spelling, comments — never takes part in equality: two scenes are equal when they
mean the same picture.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Collection, Literal

from pydantic import Field, FiniteFloat, PrivateAttr, ValidationError, field_validator, model_validator

from ..errors import Diagnostic, SceneValidationError, SigmaError, SourceLoc, did_you_mean
from .node import (MAX_COORD, MAX_DEPTH, MAX_SCALE, MAX_SIZE, MIN_DEPTH, MIN_SCALE,  # noqa: F401 - re-exported
                   MIN_SIZE, Angle, Coord, Node, Vec3)
from .kinds import PLACEMENT_KINDS, Placement, PlacementNode  # noqa: F401 - re-exported
from .values import ParamRef, _caller_loc, build, python_error, remember_params  # noqa: F401 - re-exported
from ..core.vocab import MAX_SUBJECTS, ROUTING_STEP, TOKEN_PIXELS

SUPPORTED_VERSIONS = (1,)
MAX_CANVAS = 4096
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MENTION_RE = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")


class Canvas(Node):
    width: int = 1024
    height: int = 1024

    @field_validator("width", "height")
    @classmethod
    def _multiple_of_16(cls, v: int) -> int:
        if v < TOKEN_PIXELS or v > MAX_CANVAS or v % TOKEN_PIXELS:
            raise ValueError(f"canvas sides must be multiples of {TOKEN_PIXELS} between {TOKEN_PIXELS} and "
                             f"{MAX_CANVAS} "
                             f"pixels, got {v}")
        return v


class Camera(Node):
    """A pinhole camera in metres, y up. Without `look_at` it looks down -z from `position`."""

    position: Vec3 = (0.0, 0.0, 0.0)
    look_at: Vec3 | None = None
    fov: Annotated[float, Field(gt=0, lt=180)] = 55.0  # vertical, degrees

    @model_validator(mode="after")
    def _look_somewhere(self) -> "Camera":
        if self.look_at is not None and tuple(self.look_at) == tuple(self.position):
            raise ValueError("camera look_at must differ from its position")
        return self


class Relation(Node):
    """`behind NAME` / `in_front_of NAME`: depth order without numbers."""

    kind: Literal["behind", "in_front_of"]
    target: str


class Subject(Node):
    name: str
    ref: str
    placement: Placement
    depth: Annotated[float, Field(ge=MIN_DEPTH, le=MAX_DEPTH, allow_inf_nan=False)] | None = None  # metres
    depth_map: str | None = None
    relations: list[Relation] = Field(default_factory=list)
    caption: str | None = None  # what `@name` becomes in prompts
    matte: str | None = None  # an image the size of `ref` marking the subject (white) for the collage cut-out

    @field_validator("name")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(f"subject name {v!r} must be an identifier "
                             "(letters, digits, _; not starting with a digit)")
        return v


class Param(Node):
    """`param NAME = value`: a default the command line may override with `--set NAME=VALUE`."""

    name: str
    value: FiniteFloat | str
    unit: str | None = None


class Include(Node):
    """`include "file"`, kept so `fmt` prints the statement instead of inlining the file."""

    path: str
    position: int = 0  # how many subjects of the whole scene precede the included ones


class Background(Node):
    """`background "photo.jpg"` (+ `background_depth "depth.npy"`): subjects are inserted into this photo, which
    is kept exactly outside the blend region (docs/insertion.md). `depth` is metres (.npy) or a 16-bit PNG in
    millimetres, used to hide subject pixels behind nearer parts of the photo."""

    path: str
    depth: str | None = None


def photo_canvas(width: int, height: int) -> tuple[int, int]:
    """The canvas a photo gives when the scene names none: its own size, scaled down to fit MAX_CANVAS and
    rounded down to whole tokens (the photo is then scaled and centre-cropped to cover it, like any canvas)."""
    scale = min(1.0, MAX_CANVAS / max(width, height))
    w, h = (max(TOKEN_PIXELS, int(v * scale) // TOKEN_PIXELS * TOKEN_PIXELS) for v in (width, height))
    return w, h


# The one seed rule, the language's: a whole number from 0 to 2**53 (the largest a float, how the parser reads
# numbers, holds exactly; torch's generator takes up to 2**64). The scene statement, `render --seed`, the editor
# and `sigmascene.render(seed=)` all check it through `seed_problem`.
MIN_SEED, MAX_SEED = 0, 2**53


def seed_problem(seed: object) -> str | None:
    """Why `seed` breaks the seed rule, or None when it keeps it."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        return f"seed must be a whole number, got {seed!r}"
    if seed < MIN_SEED:
        return f"seed must be zero or positive, got {seed}"
    if seed > MAX_SEED:
        return f"seed {seed} is too large: the largest is {MAX_SEED}"
    return None


class Scene(Node):
    version: int = 1
    canvas: Canvas = Field(default_factory=Canvas)
    seed: Annotated[int, Field(ge=MIN_SEED, le=MAX_SEED)] = 0  # the seed rule above
    prompt: str = ""
    compose: str | None = None
    instruction: str | None = None  # collage: replaces the Kontext edit instruction built from prompt/compose
    camera: Camera = Field(default_factory=Camera)
    params: list[Param] = Field(default_factory=list)
    includes: list[Include] = Field(default_factory=list)
    subjects: list[Subject] = Field(default_factory=list)
    background: Background | None = None

    _base_dir: Path | None = PrivateAttr(default=None)
    _file: str | None = PrivateAttr(default=None)
    _root: Path | None = PrivateAttr(default=None)  # confined mode: every named file must lie inside it

    def __init__(self, base_dir: str | Path | None = None, **fields: Any) -> None:
        """`Scene(canvas=(1024, 1024), prompt=..., base_dir="examples")`; a bad value raises
        SceneValidationError (with pydantic's errors in `details`)."""
        try:
            super().__init__(**fields)
        except ValidationError as err:
            raise python_error(err, "scene") from None
        if base_dir is not None:
            self._base_dir = _folder(base_dir)

    @field_validator("canvas", mode="before")
    @classmethod
    def _canvas_from_pair(cls, v: Any) -> Any:
        if isinstance(v, (tuple, list)) and len(v) == 2:
            return Canvas(width=v[0], height=v[1])
        return v

    @field_validator("version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v not in SUPPORTED_VERSIONS:
            known = ", ".join(map(str, SUPPORTED_VERSIONS))
            raise ValueError(f"sigma {v} is not understood by this build (it reads sigma {known})")
        return v

    # -- building -------------------------------------------------------------------------------------------
    @property
    def base_dir(self) -> Path:
        """Directory that relative paths (refs, masks, meshes) are resolved against."""
        return self._base_dir if self._base_dir is not None else Path.cwd()

    @base_dir.setter
    def base_dir(self, value: str | Path) -> None:
        self._base_dir = _folder(value)

    @property
    def file(self) -> str | None:
        """The file this scene was read from; None when built in Python or parsed from a string."""
        return None if self._file is None or self._file.startswith("<") else self._file

    @property
    def root(self) -> Path | None:
        """In confined mode (`--safe`, `root=`), the folder every file the scene names must lie in; else None."""
        return self._root

    @root.setter
    def root(self, value: str | Path | None) -> None:
        self._root = None if value is None else Path(value)

    def resolve(self, path: str) -> Path:
        """The file a scene path names; in confined mode an AssetError when it lies outside `root`."""
        from ..core.paths import confine

        p = Path(path)
        return confine(p if p.is_absolute() else self.base_dir / p, self._root)

    def add_subject(self, name: str, ref: str | Path, placement: PlacementNode, *,
                    depth: float | None = None, depth_map: str | Path | None = None,
                    behind: str | list[str] | None = None, in_front_of: str | list[str] | None = None,
                    caption: str | None = None, matte: str | Path | None = None) -> Subject:
        """Append a subject, as a `subject NAME { ... }` block would; names must be unique."""
        if self.subject(name) is not None:
            raise SigmaError(f"subject '{name}' is already defined")
        rels = [Relation(kind="behind", target=t) for t in _as_list(behind)]
        rels += [Relation(kind="in_front_of", target=t) for t in _as_list(in_front_of)]
        subj = build(Subject, name=name, ref=str(ref), placement=placement, depth=depth,
                     depth_map=None if depth_map is None else str(depth_map), relations=rels, caption=caption,
                     matte=None if matte is None else str(matte))
        self.subjects.append(subj)
        return subj

    def set_background(self, photo: str | Path, depth: str | Path | None = None) -> Background:
        """`background "photo"` (and `background_depth "depth"`). Unless the canvas was given explicitly, it
        becomes the photo's size (see `photo_canvas`); the photo must then be readable."""
        bg = build(Background, path=str(photo), depth=None if depth is None else str(depth))
        if "canvas" not in self.model_fields_set:
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(self.resolve(bg.path)) as im:
                    size = im.size
            except (OSError, UnidentifiedImageError, ValueError) as exc:
                raise SceneValidationError(f"background photo cannot be read to size the canvas: {photo} ({exc})",
                                           _caller_loc(), "give the canvas explicitly, or fix the path") from None
            self.canvas = Canvas(width=photo_canvas(*size)[0], height=photo_canvas(*size)[1])
        self.background = bg
        return bg

    def add_param(self, name: str, value: float | str, unit: str | None = None) -> "ParamRef | str":
        """Declare `param NAME = value`; returns the value to use in builders (a ParamRef for numbers), so
        the printed scene says `$NAME` where it is used and `with_params`/`--set` can change it."""
        if not NAME_RE.match(name):
            raise SceneValidationError(f"param name {name!r} must be an identifier", _caller_loc())
        if self.param(name) is not None:
            raise SceneValidationError(f"param '{name}' is already defined", _caller_loc())
        self.params.append(build(Param, name=name, value=value, unit=unit))
        return value if isinstance(value, str) else ParamRef(name, value)

    def subject(self, name: str) -> Subject | None:
        return next((s for s in self.subjects if s.name == name), None)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    # -- checking -------------------------------------------------------------------------------------------
    def _wrong_types(self) -> list[Diagnostic]:
        """Lists changed in place (`scene.subjects.append(...)`) skip pydantic's checks: say what belongs there."""
        out = []
        for field, kind, how in (("subjects", Subject, "sigmascene.Subject(name=..., ref=..., placement=...)"),
                                 ("params", Param, "sigmascene.Param(name=..., value=...)")):
            items = getattr(self, field)
            if not isinstance(items, list):
                out.append(Diagnostic(f"scene.{field} must be a list of {kind.__name__}, got "
                                      f"{type(items).__name__}", None, f"use a list of {how}"))
                continue
            for i, item in enumerate(items):
                if not isinstance(item, kind):
                    out.append(Diagnostic(f"scene.{field}[{i}] is {type(item).__name__} {item!r:.40}, not a "
                                          f"{kind.__name__}", None, f"append {how}"))
        return out

    def problems(self, failed: Collection[str] = (), partial: bool = False) -> list[Diagnostic]:
        """Every cross-node problem (counts, names, references, depth cycles), each located when possible.
        `failed`: subjects the file names but that could not be built (their own errors are reported): naming
        them is no mistake, so they are not "unknown" here. `partial`: syntax errors removed part of the text,
        so a missing subject may be one of them."""
        out: list[Diagnostic] = self._wrong_types()
        if out:  # a list holding something that is not a node: nothing below can be checked
            return out
        if not self.subjects and not failed and not partial:
            out.append(Diagnostic("a scene needs at least one subject", self._locs.get("version", self.loc),
                                  "add a `subject NAME { ref \"...\" box2d (...) }` block"))
        if len(self.subjects) > MAX_SUBJECTS:
            extra = self.subjects[MAX_SUBJECTS]
            out.append(Diagnostic(f"a scene holds at most {MAX_SUBJECTS} subjects "
                                  f"(routing intensities {ROUTING_STEP}..{ROUTING_STEP * MAX_SUBJECTS}), "
                                  f"this one has {len(self.subjects)}", extra.loc))
        seen: dict[str, Subject] = {}
        for s in self.subjects:
            if s.name in seen:
                out.append(Diagnostic(f"subject '{s.name}' is defined twice", s.loc,
                                      related=[("first defined here", seen[s.name].loc)]))
            else:
                seen[s.name] = s
        names = [*seen, *failed]  # a name that failed to build is still a fine suggestion
        for s in self.subjects:
            for r in s.relations:
                if r.target == s.name:
                    out.append(Diagnostic(f"subject '{s.name}' cannot be {r.kind.replace('_', ' ')} itself", r.loc))
                elif r.target not in seen and r.target not in failed:
                    out.append(Diagnostic(f"unknown subject '{r.target}' in `{r.kind}`", r.field_loc("target"),
                                          did_you_mean(r.target, names)))
        for field in ("prompt", "compose", "instruction"):
            text = getattr(self, field) or ""
            for m in MENTION_RE.finditer(text):
                if m.group(1) not in seen and m.group(1) not in failed:
                    out.append(Diagnostic(f"`@{m.group(1)}` in {field} names no subject",
                                          self._mention_loc(field, m.start()), did_you_mean(m.group(1), names)))
        out += self._cycles(seen)
        return out

    def validate_scene(self) -> "Scene":
        """Raise one SigmaError listing every problem; return self so calls chain."""
        problems = self.problems()
        if problems:
            raise SceneValidationError(problems)
        return self

    def depth_edges(self) -> list[tuple[str, str, Relation]]:
        """(farther, nearer, relation) for every depth relation."""
        edges = []
        for s in self.subjects:
            for r in s.relations:
                far, near = (s.name, r.target) if r.kind == "behind" else (r.target, s.name)
                edges.append((far, near, r))
        return edges

    def _cycles(self, seen: dict[str, Subject]) -> list[Diagnostic]:
        """Depth cycles by an iterative depth-first search: a 1,000-long `behind` chain must not overflow the
        stack, and the walk stays linear in subjects + relations."""
        graph: dict[str, list[tuple[str, Relation]]] = {n: [] for n in seen}
        for far, near, rel in self.depth_edges():
            if far in graph and near in graph and far != near:
                graph[far].append((near, rel))
        out: list[Diagnostic] = []
        stack: list[tuple[str, str, Relation]] = []  # the path's edges
        state = {n: 0 for n in graph}  # 0 new, 1 on the path, 2 done
        pos: dict[str, int] = {}  # node on the path -> index in `stack` of the edge leaving it
        for root in graph:
            if state[root]:
                continue
            state[root] = 1
            todo = [(root, iter(graph[root]))]
            while todo:
                n, edges = todo[-1]
                step = next(edges, None)
                if step is None:
                    state[n] = 2
                    todo.pop()
                    if todo:
                        pos.pop(stack.pop()[0])
                    continue
                m, rel = step
                pos[n] = len(stack)
                stack.append((n, m, rel))
                if state[m] == 0:
                    state[m] = 1
                    todo.append((m, iter(graph[m])))
                    continue
                if state[m] == 1:
                    cyc = stack[pos[m]:]
                    path = " behind ".join([e[0] for e in cyc] + [m])
                    out.append(Diagnostic(f"depth relations form a cycle: {path}", cyc[0][2].loc,
                                          "remove one `behind`/`in_front_of` or give explicit depths",
                                          related=[(f"'{a}' is behind '{b}' here", r.loc) for a, b, r in cyc[1:]]))
                stack.pop()
                pos.pop(n)
        return out

    def _mention_loc(self, field: str, offset: int) -> SourceLoc | None:
        loc = self._locs.get(field)
        if loc is None:
            return self.loc
        text, _ = self._src.get(field, (None, None))
        # Point at the `@` when the string literal has no escapes before it; else at the string.
        if text is not None and "\\" not in text[: offset + 1]:
            return SourceLoc(loc.file, loc.line, loc.column + 1 + offset)
        return loc


def _as_list(v: str | list[str] | None) -> list[str]:
    return [] if v is None else [v] if isinstance(v, str) else list(v)


def _folder(value: Any) -> Path:
    """A `base_dir` given in Python: a path (str or os.PathLike), or SceneValidationError saying so."""
    import os

    if isinstance(value, (str, os.PathLike)) and not isinstance(value, bytes):
        return Path(value)
    raise SceneValidationError(f"base_dir must be a folder path (str or pathlib.Path), got {type(value).__name__} "
                               f"{value!r:.40}", _caller_loc(), "Scene(..., base_dir=\"path/to/scene/folder\")")
