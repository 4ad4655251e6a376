"""THE depth encoding of the structure channel I_T, shared by the compiler and the trainer, and depth-map files.

The formula (docs/maps.md) is normalised inverse depth, like the relative depth that monocular estimators
produce and that SIGMA-SET-style data is made from: nearer is brighter, the scene's nearest surface is 255,
its farthest is 1, and 0 is kept for "no geometry given". Inverse depth spends the 8 bits where they matter
(near surfaces) and stays finite for far ones. `near`/`far` may be fixed instead of taken from the data when a
caller wants one absolute scale across images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AssetError, SourceLoc
from .assets import MAX_PIXELS, cached, existing_file, open_image

DEPTH_SUFFIXES = (".npy", ".png", ".tif", ".tiff")


def valid_depth(depth_m: np.ndarray) -> np.ndarray:
    return np.isfinite(depth_m) & (depth_m > 0)


def depth_range(depth_m: np.ndarray, valid: np.ndarray) -> tuple[float, float] | None:
    """(near, far) in metres over the valid pixels, or None when there are none."""
    vals = np.asarray(depth_m)[np.broadcast_to(np.asarray(valid, bool), np.shape(depth_m))]
    vals = vals[valid_depth(vals)]  # gather first: a subject's pixels are a small part of the canvas
    if vals.size == 0:
        return None
    return float(vals.min()), float(vals.max())


def encode_depth(depth_m: np.ndarray, valid: np.ndarray, near: float | None = None,
                 far: float | None = None) -> np.ndarray:
    """uint8 map: 0 where not valid, else 1 + round(254 * (1/d - 1/far) / (1/near - 1/far)), clipped to 1..255.

    near/far default to the nearest and farthest valid depth. When near == far every valid pixel is 255.
    Rounding is numpy's round-half-to-even, so the result is bit-identical on every machine.
    """
    depth_m = np.asarray(depth_m)
    if depth_m.dtype not in (np.float32, np.float64):
        depth_m = depth_m.astype(np.float64)
    ok = np.asarray(valid, dtype=bool) & valid_depth(depth_m)
    out = np.zeros(depth_m.shape, dtype=np.uint8)
    vals = depth_m[ok].astype(np.float64)  # widening is exact: the same numbers as widening the whole map first
    if vals.size == 0:
        return out
    rng = float(vals.min()), float(vals.max())
    lo_d = rng[0] if near is None else float(near)
    hi_d = rng[1] if far is None else float(far)
    if not (lo_d > 0 and hi_d >= lo_d):
        raise ValueError(f"encode_depth needs 0 < near <= far, got near={lo_d}, far={hi_d}")
    inv_near, inv_far = 1.0 / lo_d, 1.0 / hi_d
    if inv_near == inv_far:
        out[ok] = 255
        return out
    # (1 + rint(254 * clip((1/d - 1/far) / (1/near - 1/far), 0, 1))), each step in place: the same float64
    # operations in the same order as the one-line formula, without a canvas-sized temporary per step
    t = np.divide(1.0, vals, out=vals)
    t -= inv_far
    t /= inv_near - inv_far
    np.clip(t, 0.0, 1.0, out=t)
    t *= 254.0
    np.rint(t, out=t)
    t += 1.0
    out[ok] = t.astype(np.uint8)
    return out


def decode_depth(code: np.ndarray, near: float, far: float) -> np.ndarray:
    """Metres for codes 1..255 (nan for 0): the inverse of encode_depth up to its 8-bit rounding."""
    code = np.asarray(code, dtype=np.float64)
    inv_near, inv_far = 1.0 / near, 1.0 / far
    with np.errstate(divide="ignore", invalid="ignore"):
        d = 1.0 / (inv_far + (code - 1.0) / 254.0 * (inv_near - inv_far)) if near != far else np.full_like(code, near)
    return np.where(code > 0, d, np.nan)


def depth_suffix(path: Path, loc: SourceLoc | None) -> str:
    """The depth map's suffix, lower-case, when it is a format the loader reads; else the one located error that
    both the loader and `check` give."""
    suffix = path.suffix.lower()
    if suffix not in DEPTH_SUFFIXES:
        raise AssetError(f"depth map must be .npy (metres), 16-bit .png (millimetres) or float .tif (metres), "
                         f"got {path.name}", loc)
    return suffix


def load_depth_map(path: Path, loc: SourceLoc | None, width: int, height: int) -> np.ndarray:
    """float32 H x W metres at canvas size; 0 marks pixels without a valid depth.

    .npy: float metres. PNG: 16-bit millimetres (8-bit PNGs are refused: their scale is unknowable).
    TIFF: 32-bit float metres, or 16-bit millimetres. Resized to the canvas with nearest-neighbour so depth
    edges never blend into in-between values that exist nowhere in the scene.
    """
    existing_file(path, loc, "depth map")
    suffix = depth_suffix(path, loc)

    def load() -> np.ndarray:
        from PIL import Image

        if suffix == ".npy":
            try:  # the header first: a small file may claim a huge array
                arr = np.load(path, allow_pickle=False, mmap_mode="r")
                if arr.size > MAX_PIXELS:
                    raise AssetError(f"depth map .npy holds {arr.size / 1e6:.0f} million values, over the "
                                     f"{MAX_PIXELS // 1_000_000} megapixel limit: {path}", loc)
                arr = np.array(arr)
            except (OSError, ValueError, EOFError) as exc:
                raise AssetError(f"depth map is not a readable .npy array: {path} ({exc})", loc) from None
            if arr.ndim == 3 and arr.shape[2] == 1:
                arr = arr[..., 0]
            if arr.ndim != 2 or arr.size == 0 or arr.dtype.kind not in "fiu":
                raise AssetError(f"depth map .npy must be a 2-D numeric array, got shape {arr.shape} "
                                 f"dtype {arr.dtype}: {path}", loc)
            metres = arr.astype(np.float32)
        else:
            im = open_image(path, loc, "depth map")
            if im.mode in ("I;16", "I;16B", "I;16L", "I;16N") or (im.mode == "I" and suffix == ".png"):
                metres = np.asarray(im, dtype=np.float32) / 1000.0
            elif im.mode == "F":
                metres = np.asarray(im, dtype=np.float32)
            else:
                raise AssetError(f"depth map {path.name} is a {im.mode} image; depth images must be 16-bit "
                                 f"(millimetres) or 32-bit float (metres)", loc,
                                 "save metres with numpy.save(...) as .npy, or millimetres as a 16-bit PNG")
        metres = np.where(valid_depth(metres), metres, 0.0).astype(np.float32)
        if metres.shape != (height, width):
            metres = np.asarray(Image.fromarray(metres, mode="F").resize((width, height), Image.Resampling.NEAREST),
                                dtype=np.float32)
        metres = np.ascontiguousarray(metres)
        metres.setflags(write=False)
        return metres

    return cached("depth", path, (width, height), load)
