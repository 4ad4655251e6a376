"""`check`'s file pass: every file a scene names exists and decodes, read from headers only, every problem at once.

`compile` reads files one by one and stops at the first that fails; a checker should instead list all of them,
in the time an editor can wait (image headers are a few bytes; nothing is decoded in full). Meshes are checked
for existence, suffix and a non-empty body: parsing one is a full load, which `compile` does anyway.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import AssetError, Diagnostic, SigmaError, SourceLoc
from ..scene import Scene
from .assets import IMAGE_SUFFIXES, MAX_PIXELS, MESH_SUFFIXES, existing_file
from .depth import DEPTH_SUFFIXES


def _image_header(path: Path, loc: SourceLoc | None, what: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:  # lazy: reads the header, decodes nothing
            w, h = im.size
    except UnidentifiedImageError:
        raise AssetError(f"{what} is not an image Pillow can read: {path}", loc,
                         f"use one of {IMAGE_SUFFIXES}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise AssetError(f"{what} image is corrupt: {path} ({exc})", loc) from None
    if w <= 0 or h <= 0:
        raise AssetError(f"{what} image is empty ({w}x{h} pixels): {path}", loc)
    if w * h > MAX_PIXELS:
        raise AssetError(f"{what} image is {w}x{h} = {w * h / 1e6:.0f} megapixels, over the "
                         f"{MAX_PIXELS // 1_000_000} megapixel limit: {path}", loc, "downscale it first")


def _depth_header(path: Path, loc: SourceLoc | None) -> None:
    suffix = path.suffix.lower()
    if suffix not in DEPTH_SUFFIXES:
        raise AssetError(f"depth map must be .npy (metres), 16-bit .png (millimetres) or float .tif (metres), "
                         f"got {path.name}", loc)
    if suffix == ".npy":
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
        p = s.placement
        if p.kind in ("mask", "mesh"):
            out.append((p.kind, p.path, p.field_loc("path")))
        if s.depth_map:
            out.append(("depth map", s.depth_map, s.field_loc("depth_map")))
    return out


def check_files(scene: Scene) -> list[Diagnostic]:
    """Every problem with the files `scene` names (missing, with a did-you-mean; not an image; empty; too big)."""
    problems: list[Diagnostic] = []
    seen: set[tuple[str, str]] = set()
    for what, written, loc in scene_files(scene):
        path = scene.resolve(written)
        try:
            existing_file(path, loc, what)
            if what in ("reference", "mask", "background photo"):
                _image_header(path, loc, what)
            elif what in ("depth map", "background depth"):
                _depth_header(path, loc)
            else:
                _mesh_header(path, loc)
        except SigmaError as err:
            key = (what, str(path))
            if key not in seen or loc is not None:  # the same missing file at two places: both places
                problems += err.diagnostics
            seen.add(key)
    return problems


def check_scene_file(path: str | Path, *, overrides: dict[str, str] | None = None,
                     syntax_only: bool = False, root: "Path | bool | None" = None) -> list[Diagnostic]:
    """Everything `sigmascene check` reports for one file: language errors, then (unless `syntax_only`, or the
    text already has errors) the files it names. Empty: the file is fine. `root` confines paths as `load` does."""
    from ..grammar import load

    try:
        scene = load(path, overrides=overrides, root=root)
    except SigmaError as err:
        return list(err.diagnostics)
    return [] if syntax_only else check_files(scene)
