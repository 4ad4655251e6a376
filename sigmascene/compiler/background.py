"""The photo a scene inserts its subjects into: fitted to the canvas, its depth, and the blend region.

The photo and its depth are fitted the same way (scaled to cover the canvas, centre-cropped), so a depth pixel
stays over the photo pixel it measures. The blend region is where the model may change the photo: the union of
the subjects' visible regions, dilated by a margin so each subject's edge is generated in context.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scene import Scene
from .assets import load_rgb
from .depth import load_depth_map

DEFAULT_BLEND_MARGIN = 16  # pixels, for a 1024 px canvas


def default_blend(width: int, height: int) -> tuple[int, int]:
    """(blend margin, feather) in pixels when not given: 1/64 and 1/128 of the canvas's long side (16 and 8 px
    at 1024), at least 1 — a fixed 16 px would repaint most of the demo model's 64 px canvas."""
    side = max(width, height)
    return max(1, round(side / 64)), max(1, round(side / 128))


@dataclass
class FittedBackground:
    rgb: np.ndarray  # H x W x 3 uint8, the photo fitted to the canvas
    depth: np.ndarray | None  # H x W float32 metres, 0 where unknown
    photo_size: tuple[int, int]  # (width, height) of the file


def cover_box(src: tuple[int, int], dst: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """((scaled width, scaled height), (left, top)) that scale `src` to cover `dst` and centre-crop it."""
    (sw, sh), (dw, dh) = src, dst
    scale = max(dw / sw, dh / sh)
    rw, rh = max(dw, int(round(sw * scale))), max(dh, int(round(sh * scale)))
    return (rw, rh), ((rw - dw) // 2, (rh - dh) // 2)


def load_background(scene: Scene) -> FittedBackground | None:
    """The scene's background at canvas size (None without one); errors are located AssetErrors."""
    from PIL import Image

    bg = scene.background
    if bg is None:
        return None
    w, h = scene.canvas.width, scene.canvas.height
    photo = load_rgb(scene.resolve(bg.path), bg.field_loc("path"), "background photo")
    size = (photo.shape[1], photo.shape[0])
    (rw, rh), (left, top) = cover_box(size, (w, h))
    rgb = photo
    if (rw, rh) != size:
        rgb = np.asarray(Image.fromarray(photo).resize((rw, rh), Image.Resampling.LANCZOS), dtype=np.uint8)
    rgb = np.ascontiguousarray(rgb[top:top + h, left:left + w])
    depth = None
    if bg.depth:
        full = load_depth_map(scene.resolve(bg.depth), bg.field_loc("depth"), rw, rh)
        depth = np.ascontiguousarray(full[top:top + h, left:left + w])
    return FittedBackground(rgb=rgb, depth=depth, photo_size=size)


def photo_hides(photo_depth: np.ndarray, surface: np.ndarray | float, metric: np.ndarray | bool) -> np.ndarray:
    """Where the photo is nearer than a subject's surface (only where that surface depth is real geometry or a
    given depth: a subject without any depth is not occluded by the photo)."""
    surface = np.broadcast_to(np.asarray(surface, np.float32), photo_depth.shape)
    known = np.broadcast_to(np.asarray(metric, bool), photo_depth.shape)
    return known & (photo_depth > 0) & (photo_depth < surface)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a (2r+1)² square, with a summed-area table: linear in pixels, no SciPy needed."""
    m = np.asarray(mask, bool)
    if radius <= 0 or not m.any():
        return m.copy()
    h, w = m.shape
    sat = np.zeros((h + 1, w + 1), np.int64)
    sat[1:, 1:] = m.cumsum(0).cumsum(1)
    y0 = np.clip(np.arange(h) - radius, 0, h)
    y1 = np.clip(np.arange(h) + radius + 1, 0, h)
    x0 = np.clip(np.arange(w) - radius, 0, w)
    x1 = np.clip(np.arange(w) + radius + 1, 0, w)
    total = sat[y1][:, x1] - sat[y0][:, x1] - sat[y1][:, x0] + sat[y0][:, x0]
    return total > 0


def blend_region(regions: list[np.ndarray], shape: tuple[int, int], margin: int) -> np.ndarray:
    """Union of the subjects' regions, dilated by `margin` pixels."""
    union = np.zeros(shape, bool)
    for r in regions:
        union |= r
    return dilate(union, margin)
