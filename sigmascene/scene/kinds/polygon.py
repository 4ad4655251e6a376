"""`polygon (x, y) (x, y) (x, y) ...`: an outline in canvas fractions (or px), filled with the even-odd rule."""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any, Literal, Sequence

from pydantic import FiniteFloat, field_validator

from ..values import build
from .base import Lowerer, PlacementKind, PlacementNode, Printer, Speller, TextEditor

if TYPE_CHECKING:
    import numpy as np  # imported where coverage is drawn, so `import sigmascene` stays light


MAX_POINTS = 256  # a bound that keeps a hostile file an error rather than a slow parse (docs/language.md, "Limits")


class Polygon(PlacementNode):
    kind: Literal["polygon"] = "polygon"
    points: list[tuple[FiniteFloat, FiniteFloat]]

    @field_validator("points")
    @classmethod
    def _valid(cls, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if len(pts) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(pts)}")
        for x, y in pts:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"polygon points must lie in [0, 1] of the canvas, got ({x:g}, {y:g})")
        # Filled with the even-odd rule, so a self-intersecting outline (a bow-tie) is a valid shape even though
        # its signed area is zero; only points that all lie on one line enclose nothing.
        if not _spans_a_plane(pts):
            raise ValueError("polygon has no area (its points are collinear or repeated)")
        return pts


def polygon(*points: Sequence[float]) -> Polygon:
    """A polygon from (x, y) canvas-fraction points: polygon((0.7, 0.5), (0.9, 0.5), (0.8, 0.9))."""
    return build(Polygon, points=[tuple(p) for p in points])


def _spans_a_plane(pts: list[tuple[float, float]]) -> bool:
    """True unless every point lies on one line (or on one point)."""
    x0, y0 = pts[0]
    far = max(pts, key=lambda p: (p[0] - x0) ** 2 + (p[1] - y0) ** 2)
    dx, dy = far[0] - x0, far[1] - y0
    norm = (dx * dx + dy * dy) ** 0.5
    if norm < 1e-9:
        return False
    return max(abs(dx * (y - y0) - dy * (x - x0)) for x, y in pts) / norm > 1e-9


def polygon_mask(poly: Polygon, width: int, height: int) -> np.ndarray:
    """Even-odd scanline fill at pixel centres: the same rule the 3D rasteriser follows.

    (Pillow's polygon fill also paints boundary pixels whose centres lie outside, a pixel ring too many.)
    """
    import numpy as np

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


class Kind(PlacementKind):
    keyword = "polygon"
    usage = 'polygon (...) (...) (...)'
    node = Polygon
    build = staticmethod(polygon)
    control_word = "Mask"

    def lower(self, lw: Lowerer, st: Any, pf: Any) -> Polygon | None:
        if len(st.args) > MAX_POINTS:
            lw.error(f"a polygon has at most {MAX_POINTS} points, this one {len(st.args)}", st.loc,
                     "simplify the outline, or draw it as a mask image")
            return None
        canvas = lw.scene.canvas
        points, ok = [], True
        for v in st.args:
            p = lw.vec(v, "coord", 2, "a polygon point (x, y)", axes=(canvas.width, canvas.height))
            ok = ok and p is not None
            points.append(p)
        if not ok:
            return None
        node = lw.make(Polygon, st, {"points": points}, {})
        if node is not None:
            for i, v in enumerate(st.args):
                lw.record(node, f"points.{i}", v, points[i])
        return node

    def print(self, pr: Printer, p: Any) -> str:
        return "polygon " + " ".join(pr.vec(p, f"points.{i}", pt) for i, pt in enumerate(p.points))

    def edit_text(self, sp: Speller, p: Any) -> str:
        old = sp.old
        olds = list(old.points) if isinstance(old, Polygon) else []

        def point(pt: tuple) -> str:
            j = olds.index(tuple(pt)) if tuple(pt) in olds else None  # an unchanged point keeps its spelling
            if j is not None and f"points.{j}.0" in old._src:
                return "(" + ", ".join(old._src[f"points.{j}.{i}"][0] for i in (0, 1)) + ")"
            return "(" + ", ".join(sp.fmt(v, "coord") for v in pt) + ")"

        return "polygon " + " ".join(point(pt) for pt in p.points)

    def drag(self, ed: TextEditor, subj: Any, p: Any, fields: dict[str, Any], axes: tuple[int, int]) -> None:
        pts: list[tuple[float, float]] = [(float(pt[0]), float(pt[1])) for pt in fields.get("points", p.points)]
        if len(pts) != len(p.points):  # a point added or removed: the statement is written again
            ed.replace_item(subj, p, ed.placement_text(Polygon(points=pts), old=p))
            return
        for i, (old, new) in enumerate(zip(p.points, pts)):
            for j in (0, 1):
                if old[j] != new[j]:
                    ed.number(p, f"points.{i}.{j}", new[j], "coord", axes[j])

    def from_bbox(self, bbox: tuple[float, float, float, float], stand: Any) -> Polygon:
        x0, y0, x1, y1 = bbox
        return Polygon(points=[(x0, y0), (x1, y0), (x1, y1), (x0, y1)])

    def coverage(self, node: Any, width: int, height: int) -> np.ndarray:
        return polygon_mask(node, width, height)

    def example(self, rng: random.Random) -> str:
        n = rng.randint(3, 8)  # corners spread round a circle: never collinear
        turns = [(k + rng.uniform(0.0, 0.8)) / n * 2 * math.pi for k in range(n)]
        r = rng.uniform(0.1, 0.5)
        return "polygon " + " ".join(f"({0.5 + r * math.cos(t):.3f}, {0.5 + r * math.sin(t):.3f})" for t in turns)
