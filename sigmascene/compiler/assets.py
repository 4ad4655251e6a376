"""Loading the files a scene names (references, masks, meshes), validated and cached.

The trainer compiles thousands of scenes that share references, and an interactive `preview` recompiles the
same scene after every edit, so decoded files are cached by (path, mtime, size): an edited file is re-read,
an unchanged one is not. The cache is a bounded LRU so a long training run cannot grow it without limit.
Every failure is an AssetError located at the scene node that named the file. References and masks share
one loader (`load_image`), so every image the user gives is read the same way: upright, 8-bit, one frame.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import AssetError, SourceLoc
from ..core.paths import stat_regular

MAX_PIXELS = 50_000_000
CACHE_ENTRIES = 256
IMAGE_SUFFIXES = ".png .jpg .jpeg .webp .bmp .tif .tiff .gif .ppm .pgm"

_cache: "OrderedDict[tuple, Any]" = OrderedDict()
_notes: dict[str, list[str]] = {}


def clear_cache() -> None:
    _cache.clear()


def cached(kind: str, path: Path, extra: tuple, loader: Callable[[], Any]) -> Any:
    """Return loader()'s value, reusing it while the file's mtime and size are unchanged."""
    try:
        st = path.stat()
    except (OSError, ValueError):  # vanished or unnameable: the loader reports it with its location
        return loader()
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
    """`path` when it is a readable regular file; else a located AssetError (missing, a folder, a device, no
    permission, a name too long, a NUL byte)."""
    try:
        stat_regular(path, loc, what)
    except AssetError:  # only now list the folder for a did-you-mean hint (it costs milliseconds per file)
        stat_regular(path, loc, what, _near_names(path))
        raise
    return path


def _near_names(path: Path) -> str | None:
    from ..errors import did_you_mean

    try:
        names = [p.name for p in path.parent.iterdir()]
    except (OSError, ValueError):
        return None
    return did_you_mean(path.name, names)


def open_image(path: Path, loc: SourceLoc | None, what: str):
    """A fully decoded PIL image, after checking that the file is an image of a sane size.

    The pixel limit is checked on the header, before any pixel is decoded, so a 100 KB file that claims
    30000 x 30000 pixels (a decompression bomb) costs nothing and gets the same message as a real huge image.
    """
    import warnings

    from PIL import Image

    im = open_image_header(path, loc, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise AssetError(f"{what} image is corrupt or truncated: {path} ({exc})", loc) from None
    return im


def open_image_header(path: Path, loc: SourceLoc | None, what: str):
    """The lazily opened PIL image (its header read, no pixel decoded) of an existing image file within the pixel
    limit; every other case a located AssetError. Shared by `open_image` and `check`'s header-only file pass, so
    both give one message for one problem."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    existing_file(path, loc, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError:
        raise AssetError(f"{what} image is over the {MAX_PIXELS // 1_000_000} megapixel limit: {path}", loc,
                         "downscale it first") from None
    except UnidentifiedImageError:
        size = _declared_size(path)
        if size is not None and 0 in size:
            raise AssetError(f"{what} image is empty ({size[0]}x{size[1]} pixels): {path}", loc) from None
        raise AssetError(f"{what} is not an image Pillow can read: {path}", loc,
                         f"use one of {IMAGE_SUFFIXES}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise AssetError(f"{what} image is corrupt: {path} ({exc})", loc) from None
    w, h = im.size
    if w <= 0 or h <= 0 or w * h > MAX_PIXELS:
        im.close()
    if w <= 0 or h <= 0:
        raise AssetError(f"{what} image is empty ({w}x{h} pixels): {path}", loc)
    if w * h > MAX_PIXELS:
        raise AssetError(f"{what} image is {w}x{h} = {w * h / 1e6:.0f} megapixels, over the "
                         f"{MAX_PIXELS // 1_000_000} megapixel limit: {path}", loc, "downscale it first")
    return im


def _declared_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a file's header when Pillow refused it: an empty file or a 0-sized PNG."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
    except OSError:
        return None
    if not head:
        return (0, 0)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return None


def asset_notes(path: Path) -> list[str]:
    """What the loader changed about a file on its way in (an animation cut to its first frame), for the
    compiler's warnings."""
    return list(_notes.get(str(path), ()))


def load_image(path: Path, loc: SourceLoc | None, what: str):
    """THE loader for references and masks: a decoded, upright, 8-bit PIL image in RGB, RGBA, L or LA.

    EXIF orientation is applied (a phone photo is stored sideways with a rotation tag); 16-bit and 32-bit
    grey images are scaled to 8 bits instead of clipped (16-bit PNG references came out white); palette,
    CMYK, YCbCr, LAB and 1-bit images are converted; an animated file gives its first frame, with a note.
    """
    import numpy as np
    from PIL import Image, ImageOps

    im = open_image(path, loc, what)
    notes = []
    if getattr(im, "is_animated", False):
        notes.append(f"{what} {path.name} is animated ({getattr(im, 'n_frames', '?')} frames); its first frame "
                     f"is used")
    try:
        im = ImageOps.exif_transpose(im) or im
    except Exception:  # noqa: BLE001 - a malformed EXIF block leaves the pixels as stored, never fails the load
        pass
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode != "I" or arr.max(initial=0) > 255 or im.format == "PNG" else 255.0
        im = Image.fromarray(np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8), "L")
    elif im.mode == "F":
        arr = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0  # float images are 0..1 (or already 0..255)
        im = Image.fromarray(np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8), "L")
    elif im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    elif im.mode not in ("RGB", "RGBA", "L", "LA"):
        im = im.convert("RGBA" if "A" in im.getbands() else "RGB")  # CMYK, YCbCr, LAB, HSV, 1, RGBX, RGBa, La
    if notes:
        _notes[str(path)] = notes
    else:
        _notes.pop(str(path), None)
    return im


def load_rgb(path: Path, loc: SourceLoc | None, what: str = "reference") -> np.ndarray:
    """H x W x 3 uint8; transparency is composited over white, the identity blocks' padding colour."""

    def load() -> np.ndarray:
        from PIL import Image

        im = load_image(path, loc, what)
        if im.mode in ("RGBA", "LA"):
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

        im = load_image(path, loc, "mask")
        arr = np.asarray(im)
        if arr.ndim == 3 and im.mode in ("RGBA", "LA") and arr[..., -1].min() < 255:
            m = arr[..., -1] > 0
        elif arr.ndim == 3:
            m = (arr[..., : (1 if im.mode == "LA" else 3)] != 0).any(axis=2)
        else:
            m = arr != 0
        if m.shape != (height, width):
            m = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((width, height),
                                                                             Image.Resampling.NEAREST)) > 0
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
            raise AssetError(f"mesh must be one of {', '.join(MESH_SUFFIXES)}, got {path.name}", loc)
        try:
            obj = trimesh.load(str(path), force="mesh", process=True)
        except Exception as exc:  # noqa: BLE001 - trimesh raises many types for malformed files
            raise AssetError(f"mesh file cannot be read: {path} ({type(exc).__name__}: {exc})", loc) from None
        if not isinstance(obj, trimesh.Trimesh) or len(obj.faces) == 0:
            raise AssetError(f"mesh file holds no triangles: {path}", loc)
        if not np.isfinite(obj.vertices).all():
            raise AssetError(f"mesh file has non-finite vertices: {path}", loc)
        if obj.is_watertight:
            obj.fix_normals()  # the renderer culls back faces; inside-out files would vanish otherwise
        return obj

    return cached("mesh", existing_file(path, loc, "mesh"), (), load)
