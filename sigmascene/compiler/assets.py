"""Loading the files a scene names (references, masks, meshes), validated and cached.

The trainer compiles thousands of scenes that share references, and an interactive `preview` recompiles the
same scene after every edit, so decoded files are cached by (path, mtime, size): an edited file is re-read,
an unchanged one is not. The cache is a bounded LRU so a long training run cannot grow it without limit.
Every failure is a SigmaError located at the scene node that named the file.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import SigmaError, SourceLoc

MAX_PIXELS = 50_000_000
CACHE_ENTRIES = 256
IMAGE_SUFFIXES = ".png .jpg .jpeg .webp .bmp .tif .tiff .gif .ppm .pgm"

_cache: "OrderedDict[tuple, Any]" = OrderedDict()


def clear_cache() -> None:
    _cache.clear()


def cached(kind: str, path: Path, extra: tuple, loader: Callable[[], Any]) -> Any:
    """Return loader()'s value, reusing it while the file's mtime and size are unchanged."""
    st = path.stat()
    key = (kind, str(path), st.st_mtime_ns, st.st_size, extra)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    value = loader()
    _cache[key] = value
    while len(_cache) > CACHE_ENTRIES:
        _cache.popitem(last=False)
    return value


def existing_file(path: Path, loc: SourceLoc | None, what: str) -> Path:
    if not path.exists():
        raise SigmaError(f"{what} file not found: {path}", loc, _near_names(path))
    if not path.is_file():
        raise SigmaError(f"{what} path is not a file: {path}", loc)
    if not os.access(path, os.R_OK):
        raise SigmaError(f"{what} file is not readable: {path}", loc)
    return path


def _near_names(path: Path) -> str | None:
    from ..errors import did_you_mean

    try:
        names = [p.name for p in path.parent.iterdir()]
    except OSError:
        return None
    return did_you_mean(path.name, names)


def open_image(path: Path, loc: SourceLoc | None, what: str):
    """A fully decoded PIL image, after checking that the file is an image of a sane size."""
    from PIL import Image, UnidentifiedImageError

    existing_file(path, loc, what)
    try:
        im = Image.open(path)
    except UnidentifiedImageError:
        size = _declared_size(path)
        if size is not None and 0 in size:
            raise SigmaError(f"{what} image is empty ({size[0]}x{size[1]} pixels): {path}", loc) from None
        raise SigmaError(f"{what} is not an image Pillow can read: {path}", loc,
                         f"use one of {IMAGE_SUFFIXES}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise SigmaError(f"{what} image is corrupt: {path} ({exc})", loc) from None
    w, h = im.size
    if w <= 0 or h <= 0:
        raise SigmaError(f"{what} image is empty ({w}x{h} pixels): {path}", loc)
    if w * h > MAX_PIXELS:
        raise SigmaError(f"{what} image is {w}x{h} = {w * h / 1e6:.0f} megapixels, over the "
                         f"{MAX_PIXELS // 1_000_000} megapixel limit: {path}", loc, "downscale it first")
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise SigmaError(f"{what} image is corrupt or truncated: {path} ({exc})", loc) from None
    return im


def _declared_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a file's header when Pillow refused it: an empty file or a 0-sized PNG."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if not head:
        return (0, 0)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return None


def load_rgb(path: Path, loc: SourceLoc | None, what: str = "reference") -> np.ndarray:
    """H x W x 3 uint8; transparency is composited over white, the identity blocks' padding colour."""

    def load() -> np.ndarray:
        from PIL import Image

        im = open_image(path, loc, what)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            im = Image.alpha_composite(bg, rgba)
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
        arr.setflags(write=False)
        return arr

    return cached("rgb", existing_file(path, loc, what), (), load)


def load_mask(path: Path, loc: SourceLoc | None, width: int, height: int) -> np.ndarray:
    """H x W bool at canvas size. Non-zero = subject; with real transparency, alpha > 0 = subject."""

    def load() -> np.ndarray:
        from PIL import Image

        im = open_image(path, loc, "mask")
        if im.mode == "P":
            im = im.convert("RGBA")
        arr = np.asarray(im)
        if arr.ndim == 3 and im.mode in ("RGBA", "LA") and arr[..., -1].min() < 255:
            m = arr[..., -1] > 0
        elif arr.ndim == 3:
            m = (arr[..., : (1 if im.mode == "LA" else 3)] != 0).any(axis=2)
        else:
            m = arr != 0
        if m.shape != (height, width):
            m = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((width, height), Image.NEAREST)) > 0
        m = np.ascontiguousarray(m)
        m.setflags(write=False)
        return m

    return cached("mask", existing_file(path, loc, "mask"), (width, height), load)


MESH_SUFFIXES = (".obj", ".ply", ".glb", ".gltf", ".stl", ".off")


def load_mesh(path: Path, loc: SourceLoc | None):
    """One trimesh.Trimesh in its own units (scenes are merged), with consistent outward winding."""

    def load():
        import trimesh

        if path.suffix.lower() not in MESH_SUFFIXES:
            raise SigmaError(f"mesh must be one of {', '.join(MESH_SUFFIXES)}, got {path.name}", loc)
        try:
            obj = trimesh.load(str(path), force="mesh", process=True)
        except Exception as exc:  # trimesh raises many types for malformed files
            raise SigmaError(f"mesh file cannot be read: {path} ({type(exc).__name__}: {exc})", loc) from None
        if not isinstance(obj, trimesh.Trimesh) or len(obj.faces) == 0:
            raise SigmaError(f"mesh file holds no triangles: {path}", loc)
        if not np.isfinite(obj.vertices).all():
            raise SigmaError(f"mesh file has non-finite vertices: {path}", loc)
        if obj.is_watertight:
            obj.fix_normals()  # the renderer culls back faces; inside-out files would vanish otherwise
        return obj

    return cached("mesh", existing_file(path, loc, "mesh"), (), load)
