"""`box2d (x0, y0, x1, y1)`: an axis-aligned box in canvas fractions (x right, y down), or px."""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any, Literal

from pydantic import FiniteFloat, model_validator

from ..values import build
from .base import Lowerer, PlacementKind, PlacementNode, Printer, Speller, TextEditor

if TYPE_CHECKING:
    import numpy as np  # imported where coverage is drawn, so `import sigmascene` stays light


CORNERS = ("x0", "y0", "x1", "y1")
AXIS = {"x0": 0, "y0": 1, "x1": 0, "y1": 1}


class Box2D(PlacementNode):
    """An axis-aligned box in canvas fractions (x right, y down)."""

    kind: Literal["box2d"] = "box2d"
    x0: FiniteFloat
    y0: FiniteFloat
    x1: FiniteFloat
    y1: FiniteFloat

    @model_validator(mode="after")
    def _in_canvas(self) -> "Box2D":
        for v in (self.x0, self.y0, self.x1, self.y1):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"box2d coordinates must lie in [0, 1] of the canvas (or inside it in px), got {v:g}")
        if not (self.x0 < self.x1 and self.y0 < self.y1):
            raise ValueError("box2d needs x0 < x1 and y0 < y1 (it is (x0, y0, x1, y1), not (x, y, w, h))")
        return self


def box2d(x0: float, y0: float, x1: float, y1: float) -> Box2D:
    """A 2D box in canvas fractions (x0, y0, x1, y1)."""
    return build(Box2D, x0=x0, y0=y0, x1=x1, y1=y1)


def box2d_bounds(box: Box2D, width: int, height: int) -> tuple[int, int, int, int]:
    """Pixel bounds (x0, y0, x1, y1), end exclusive, of the pixels whose centres lie inside the box."""
    def edge(frac: float, size: int) -> int:
        return min(size, max(0, math.ceil(frac * size - 0.5)))

    return edge(box.x0, width), edge(box.y0, height), edge(box.x1, width), edge(box.y1, height)


def box2d_mask(box: Box2D, width: int, height: int) -> np.ndarray:
    import numpy as np

    x0, y0, x1, y1 = box2d_bounds(box, width, height)
    m = np.zeros((height, width), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


class Kind(PlacementKind):
    keyword = "box2d"
    usage = 'box2d (...)'
    node = Box2D
    build = staticmethod(box2d)
    control_word = "Bbox"

    def lower(self, lw: Lowerer, st: Any, pf: Any) -> Box2D | None:
        canvas = lw.scene.canvas
        v = st.args[0]
        vals = lw.vec(v, "coord", 4, "box2d (x0, y0, x1, y1)",
                      axes=(canvas.width, canvas.height, canvas.width, canvas.height))
        if vals is None:
            return None
        node = lw.make(Box2D, st, dict(zip(CORNERS, vals)), {})
        if node is not None:
            node._locs["box"], node._spans["box"] = v.loc, v.span
            for name, s, val in zip(CORNERS, v.items, vals):
                node._src[name] = (s.text, val)
                node._locs[name], node._spans[name] = s.loc, s.span
        return node

    def print(self, pr: Printer, p: Any) -> str:
        return "box2d (" + ", ".join(pr.val(p, k, getattr(p, k)) for k in CORNERS) + ")"

    def edit_text(self, sp: Speller, p: Any) -> str:
        return "box2d (" + ", ".join(sp.fmt(getattr(p, k), "coord") for k in CORNERS) + ")"

    def drag(self, ed: TextEditor, subj: Any, p: Any, fields: dict[str, Any], axes: tuple[int, int]) -> None:
        for k in CORNERS:
            if k in fields and float(fields[k]) != getattr(p, k):
                ed.number(p, k, float(fields[k]), "coord", axes[AXIS[k]])

    def from_bbox(self, bbox: tuple[float, float, float, float], stand: Any) -> Box2D:
        x0, y0, x1, y1 = bbox
        return Box2D(x0=x0, y0=y0, x1=x1, y1=y1)

    def coverage(self, node: Any, width: int, height: int) -> np.ndarray:
        return box2d_mask(node, width, height)

    def example(self, rng: random.Random) -> str:
        lo, hi = (f"{rng.uniform(0.0, 0.45):.3f}" for _ in "xy"), (f"{rng.uniform(0.55, 1.0):.3f}" for _ in "xy")
        (x0, y0), (x1, y1) = lo, hi
        return f"box2d ({x0}, {y0}, {x1}, {y1})"
