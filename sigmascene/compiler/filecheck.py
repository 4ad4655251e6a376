"""`check`'s file pass: every file a scene names exists and decodes, read from headers only, every problem at once.

`compile` reads files one by one and stops at the first that fails; a checker should instead list all of them,
in the time an editor can wait (image headers are a few bytes; nothing is decoded in full). Meshes are checked
for existence, suffix and a non-empty body: parsing one is a full load, which `compile` does anyway.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import AssetError, Diagnostic, SigmaError, SourceLoc
from ..scene import KINDS, Scene
from .assets import MESH_SUFFIXES, existing_file, open_image_header
from .depth import depth_suffix


def _image_header(path: Path, loc: SourceLoc | None, what: str) -> None:
    open_image_header(path, loc, what).close()  # the loader's own checks, on the header alone


def _depth_header(path: Path, loc: SourceLoc | None) -> None:
    if depth_suffix(path, loc) == ".npy":
        import numpy as np

        try:
            with open(path, "rb") as fh:
                major, _ = np.lib.format.read_magic(fh)
                read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(fh)  # the header only
        except (OSError, ValueError) as exc:
            raise AssetError(f"depth map is not a readable .npy array: {path} ({exc})", loc) from None
        if len([d for d in shape if d != 1]) > 2 or 0 in shape or dtype.kind not in "fiu":
            raise AssetError(f"depth map .npy must be a 2-D numeric array, got shape {shape} dtype {dtype}: {path}",
                             loc)
    else:
        _image_header(path, loc, "depth map")


def _mesh_header(path: Path, loc: SourceLoc | None) -> None:
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise AssetError(f"mesh must be one of {', '.join(MESH_SUFFIXES)}, got {path.name}", loc)
    if path.stat().st_size == 0:
        raise AssetError(f"mesh file is empty: {path}", loc)


def scene_files(scene: Scene) -> list[tuple[str, str, SourceLoc | None]]:
    """(what, path as written, location) of every file the scene names, in file order."""
    out = []
    bg = scene.background
    if bg is not None:
        out.append(("background photo", bg.path, bg.field_loc("path")))
        if bg.depth:
            out.append(("background depth", bg.depth, bg.field_loc("depth")))
    for s in scene.subjects:
        out.append(("reference", s.ref, s.field_loc("ref")))
        if s.matte:
            out.append(("matte", s.matte, s.field_loc("matte")))
        p = s.placement
        for field, what in KINDS[p.kind].files.items():
            out.append((what, getattr(p, field), p.field_loc(field)))
        if s.depth_map:
            out.append(("depth map", s.depth_map, s.field_loc("depth_map")))
    return out


def _check_one(what: str, path: Path, loc: SourceLoc | None) -> None:
    existing_file(path, loc, what)
    if what in ("reference", "background photo", "matte") or what in _IMAGE_KINDS:
        _image_header(path, loc, what)
    elif what in ("depth map", "background depth"):
        _depth_header(path, loc)
    else:
        _mesh_header(path, loc)


def _check_all(files: list[tuple[str, Path, SourceLoc | None]]) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    seen: set[tuple[str, str]] = set()
    for what, path, loc in files:
        try:
            _check_one(what, path, loc)
        except SigmaError as err:
            key = (what, str(path))
            if key not in seen or loc is not None:  # the same missing file at two places: both places
                problems += err.diagnostics
            seen.add(key)
    return problems


def check_files(scene: Scene) -> list[Diagnostic]:
    """Every problem with the files `scene` names (missing, with a did-you-mean; not an image; empty; too big;
    a matte whose size is not its reference's)."""
    problems = _check_all([(what, scene.resolve(written), loc) for what, written, loc in scene_files(scene)])
    return problems + _matte_sizes(scene, {d.loc for d in problems})


def _matte_sizes(scene: Scene, failed: set) -> list[Diagnostic]:
    """A matte marks its reference's own pixels, so the two must have one size (read from the headers)."""
    out = []
    for s in scene.subjects:
        if not s.matte or s.field_loc("matte") in failed or s.field_loc("ref") in failed:
            continue
        try:
            with open_image_header(scene.resolve(s.ref), s.field_loc("ref"), "reference") as ref, \
                    open_image_header(scene.resolve(s.matte), s.field_loc("matte"), "matte") as matte:
                rw, rh = ref.size
                mw, mh = matte.size
        except SigmaError as err:
            out += err.diagnostics
            continue
        if (rw, rh) != (mw, mh):
            out.append(Diagnostic(f"matte is {mw}x{mh} px but its reference is {rw}x{rh} px: {s.matte}",
                                  s.field_loc("matte"), "a matte marks the reference's own pixels, so it must "
                                  "have exactly the reference's size"))
    return out


_WHAT = {"s_ref": "reference", "s_depth_map": "depth map", "s_matte": "matte"}
_IMAGE_KINDS = {k.keyword for k in KINDS.values() if k.coverage_file}  # placements whose file is an image
_HEADER_WHAT = {"background": "background photo", "background_depth": "background depth"}


def parsed_files(path: Path, root: Path | None) -> list[tuple[str, Path, SourceLoc | None]]:
    """(what, path, location) of the files the scene file's own statements name, read from the parse alone.

    For a file with language errors, where no Scene can be built: the paths are literal strings the parser
    already located, so they can be checked without lowering. What this cannot see — a `$param` path, a file
    named by an include — waits for the file's language errors to be fixed. Paths outside `root` are left to
    the language pass, which reports them (confinement is the grammar's job, not repeated here)."""
    from ..grammar.parser import PlacementStmt, SubjectStmt, Text, ValueStmt, parse_source
    from ..grammar.sources import SCENE_SUFFIX, read_scene_file
    from ..core.paths import confine

    try:
        parsed = parse_source(read_scene_file(path), str(path), quote=path.suffix == SCENE_SUFFIX)
    except SigmaError:  # not even the syntax: nothing was read
        return []
    # a subject's own statements, and the header's background photo and its depth
    stmts = [it for st in parsed.stmts if isinstance(st, SubjectStmt) for it in st.items]
    stmts += [st for st in parsed.stmts if isinstance(st, ValueStmt) and st.kind in _HEADER_WHAT]
    out: list[tuple[str, Path, SourceLoc | None]] = []
    for it in stmts:
        if isinstance(it, PlacementStmt) and KINDS[it.keyword].files:
            texts = [a for a in it.args if isinstance(a, Text)]  # a kind's file is its string argument
            if not texts:
                continue
            what, text = it.keyword, texts[0]
        elif isinstance(it, ValueStmt) and it.kind in (_WHAT | _HEADER_WHAT) and isinstance(it.value, Text):
            what, text = (_WHAT | _HEADER_WHAT)[it.kind], it.value
        else:
            continue
        if text.param is not None or not text.value:
            continue
        target = path.parent / text.value
        try:
            confine(target, root, text.loc, what, text.value)
        except SigmaError:
            continue
        out.append((what, target, text.loc))
    return out


def check_scene_file(path: str | Path, *, overrides: dict[str, str] | None = None,
                     syntax_only: bool = False, root: "Path | bool | None" = None) -> list[Diagnostic]:
    """Everything `sigmascene check` reports for one file: language errors, then (unless `syntax_only`) the
    files it names. Empty: the file is fine. `root` confines paths as `load` does. When the text has language
    errors, the files its own statements name are still checked from the parse (see `parsed_files`), so a typo
    and a missing reference come out in one run."""
    from ..grammar import load

    try:
        scene = load(path, overrides=overrides, root=root)
    except SigmaError as err:
        found = list(err.diagnostics)
        if syntax_only:
            return found
        path = Path(path)
        limit = None if root is None or root is False else (path.parent if root is True else Path(root))
        reported = {(d.loc.file, d.loc.line, d.loc.column) for d in found if d.loc is not None}
        files = [f for f in parsed_files(path, limit)
                 if f[2] is None or (f[2].file, f[2].line, f[2].column) not in reported]
        return in_source_order(found + _check_all(files), str(path))
    return [] if syntax_only else check_files(scene)


def in_source_order(diags: list[Diagnostic], root: str) -> list[Diagnostic]:
    """Language and file errors merged as a reader meets them: command-line ones (no location) first, then the
    scene file top to bottom, then other files (includes) by name. Stable: one place's errors keep their order."""
    def key(d: Diagnostic) -> tuple:
        if d.loc is None:
            return (0, 0, "", 0, 0)
        return (1, int(d.loc.file != root), d.loc.file, d.loc.line, d.loc.column)

    return sorted(diags, key=key)
