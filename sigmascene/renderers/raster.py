"""Flat placements (2D boxes, masks, polygons) as canvas-sized boolean coverage, never anti-aliased.

Routing maps must hold exact intensities (10, 20, ...): a blended edge pixel of 15 would route to no subject,
or to the wrong one, so everything here is hard-edged. A pixel belongs to a shape when its centre does
(pixel j spans [j, j+1), centre j + 0.5), the convention the 3D renderer's rasteriser follows too.
"""

from __future__ import annotations

import math

import numpy as np

from ..scene import Box2D, Mask, Polygon, Scene


def box2d_bounds(box: Box2D, width: int, height: int) -> tuple[int, int, int, int]:
    """Pixel bounds (x0, y0, x1, y1), end exclusive, of the pixels whose centres lie inside the box."""
    def edge(frac: float, size: int) -> int:
        return min(size, max(0, math.ceil(frac * size - 0.5)))

    return edge(box.x0, width), edge(box.y0, height), edge(box.x1, width), edge(box.y1, height)


def box2d_mask(box: Box2D, width: int, height: int) -> np.ndarray:
    x0, y0, x1, y1 = box2d_bounds(box, width, height)
    m = np.zeros((height, width), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def polygon_mask(poly: Polygon, width: int, height: int) -> np.ndarray:
    """Fill with Pillow (no anti-aliasing); Pillow's pixel j is centred on coordinate j, hence the -0.5."""
    from PIL import Image, ImageDraw

    im = Image.new("1", (width, height), 0)
    pts = [(x * width - 0.5, y * height - 0.5) for x, y in poly.points]
    ImageDraw.Draw(im).polygon(pts, fill=1, outline=None)
    return np.asarray(im, dtype=bool)


def flat_coverage(placement: Box2D | Mask | Polygon, scene: Scene) -> np.ndarray:
    """Canvas-sized coverage of one flat placement (masks are loaded, resized and cached)."""
    w, h = scene.canvas.width, scene.canvas.height
    if isinstance(placement, Box2D):
        return box2d_mask(placement, w, h)
    if isinstance(placement, Polygon):
        return polygon_mask(placement, w, h)
    if isinstance(placement, Mask):
        from ..compiler.assets import load_mask

        return load_mask(scene.resolve(placement.path), placement.field_loc("path"), w, h)
    raise TypeError(f"not a flat placement: {type(placement).__name__}")
