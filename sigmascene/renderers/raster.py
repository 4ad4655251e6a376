"""Flat placements (2D boxes, masks, polygons) as canvas-sized boolean coverage, never anti-aliased.

Routing maps must hold exact intensities (10, 20, ...): a blended edge pixel of 15 would route to no subject,
or to the wrong one, so everything here is hard-edged. A pixel belongs to a shape when its centre does
(pixel j spans [j, j+1), centre j + 0.5), the convention the 3D renderer's rasteriser follows too.
"""

from __future__ import annotations

import math

import numpy as np

from ..scene import Box2D, Polygon, Scene


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
    """Even-odd scanline fill at pixel centres: the same rule the 3D rasteriser follows.

    (Pillow's polygon fill also paints boundary pixels whose centres lie outside, a pixel ring too many.)
    """
    pts = np.asarray(poly.points, dtype=np.float64) * (width, height)
    x0, y0 = pts[:, 0], pts[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    m = np.zeros((height, width), dtype=bool)
    r0, r1 = max(0, math.floor(pts[:, 1].min())), min(height, math.ceil(pts[:, 1].max()) + 1)
    yc = np.arange(r0, r1, dtype=np.float64)[:, None] + 0.5
    crosses = ((y0 <= yc) & (yc < y1)) | ((y1 <= yc) & (yc < y0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # only crossing edges' values are kept
        xs = np.where(crosses, x0 + (yc - y0) * (x1 - x0) / (y1 - y0), np.inf)
    xs.sort(axis=1)
    counts = crosses.sum(axis=1)
    for row, n in zip(range(r0, r1), counts):
        xr = xs[row - r0]
        for a, b in zip(xr[0:n:2], xr[1:n:2]):  # columns j with a <= j + 0.5 < b
            ja, jb = max(0, math.ceil(a - 0.5)), min(width, math.ceil(b - 0.5))
            if jb > ja:
                m[row, ja:jb] = True
    return m


def flat_coverage(placement: Box2D | Polygon, scene: Scene) -> np.ndarray:
    """Canvas-sized coverage of a 2D box or polygon.

    A mask placement is a file, not a shape: the compiler loads it (`compiler.assets.load_mask`) as it loads
    meshes, so the renderers never reach up into asset handling.
    """
    w, h = scene.canvas.width, scene.canvas.height
    if isinstance(placement, Box2D):
        return box2d_mask(placement, w, h)
    if isinstance(placement, Polygon):
        return polygon_mask(placement, w, h)
    raise TypeError(f"not a drawable flat placement: {type(placement).__name__}")
