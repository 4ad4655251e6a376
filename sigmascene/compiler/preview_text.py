"""Text on the preview pictures: the font, labels in a coloured box, and where a label goes so that it covers
neither another label nor the subject it names. Its own module so the panels (preview.py) read as pictures."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

INK = (30, 30, 34)


@lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu from matplotlib's data (a declared dependency) without importing matplotlib itself; loaded once per
    size (the editor's layout picture asks for the same font for every label of every frame)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.submodule_search_locations:
        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        path = Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "fonts" / "ttf" / name
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default()


def _text_box(draw: ImageDraw.ImageDraw, text: str, f: ImageFont.FreeTypeFont | ImageFont.ImageFont,
              ) -> tuple[int, int, int, int]:
    """`draw.textbbox` at the origin, in whole pixels (Pillow types it as floats; at an integer origin they are
    whole numbers)."""
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=f)
    return int(x0), int(y0), int(x1), int(y1)


def _label(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, colour, size: int = 14,
           bounds: tuple[int, int] | None = None) -> tuple[int, int, int, int]:
    """Text on a filled tag in the subject's colour, kept inside `bounds` (w, h) of the panel."""
    f = font(size, bold=True)
    x0, y0, x1, y1 = _text_box(draw, text, f)
    tw, th = x1 - x0 + 8, y1 - y0 + 6
    x, y = xy
    if bounds:
        x, y = min(max(0, x), bounds[0] - tw), min(max(0, y), bounds[1] - th)
    draw.rectangle((x, y, x + tw, y + th), fill=colour, outline=INK)
    lum = 0.3 * colour[0] + 0.59 * colour[1] + 0.11 * colour[2]
    draw.text((x + 4 - x0, y + 3 - y0), text, font=f, fill=INK if lum > 140 else (255, 255, 255))
    return x, y, x + tw, y + th


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place(size: tuple[int, int], w: int, h: int, candidates: list[tuple[int, int]],
           taken: list[tuple[int, int, int, int]], cover: np.ndarray | None = None) -> tuple[int, int]:
    """The candidate top-left corner (clamped into the panel) that overlaps the fewest boxes already placed,
    then hides the fewest pixels of `cover` (the subjects a viewer should still see); earlier candidates win
    ties."""
    best: tuple[int, int] | None = None
    best_cost: int | None = None
    for x, y in candidates:
        x, y = min(max(0, x), size[0] - w), min(max(0, y), size[1] - h)
        box = (x, y, x + w, y + h)
        cost = 1_000_000 * sum(_overlaps(box, t) for t in taken)
        if cover is not None:
            cost += int(cover[y:y + h, x:x + w].sum())
        if best_cost is None or cost < best_cost:
            best, best_cost = (x, y), cost
    if best is None:
        raise ValueError("no candidate position for a label")
    return best


def elide(text: str, max_width: int, size: int, bold: bool = False) -> str:
    """`text`, shortened in the middle (`multi_00…_mask_depth`) until it is at most `max_width` pixels wide:
    both ends of a name carry meaning (which case; which structure), so neither end is the one cut."""
    f = font(size, bold=bold)
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def width(t: str) -> int:
        x0, _, x1, _ = _text_box(draw, t, f)
        return x1 - x0

    if width(text) <= max_width:
        return text
    keep = len(text)
    while keep > 2:
        keep -= 1
        head = (keep + 1) // 2
        short = text[:head] + "…" + text[len(text) - (keep - head):]
        if width(short) <= max_width:
            return short
    return text[:1] + "…"


def _label_size(text: str, size: int) -> tuple[int, int]:
    f = font(size, bold=True)
    x0, y0, x1, y1 = _text_box(ImageDraw.Draw(Image.new("RGB", (1, 1))), text, f)
    return x1 - x0 + 8, y1 - y0 + 6
