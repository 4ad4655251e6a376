"""The worst cases per metric as one PNG: averages say how good a LoRA is, the worst cases say what to fix.

One row per metric. Identity rows show the worst subjects as (output crop | expected reference) pairs; image
rows show the worst outputs whole. Every tile is labelled with its case, subject and value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

from .metrics import BY_KEY, METRICS
from .case_scores import CaseScore, SubjectScore

TILE = 192
LABEL_H = 32
HEAD_W = 120
BG = (24, 24, 24)
FG = (235, 235, 235)


@dataclass
class Worst:
    metric: str
    value: float
    score: CaseScore
    subject: SubjectScore | None = None


def worst_cases(scores: Sequence[CaseScore], metric: str, k: int) -> list[Worst]:
    """The k worst (lowest for ↑ metrics, highest for MSE); identity metrics rank subjects, the rest cases."""
    info = BY_KEY[metric]
    items: list[Worst] = []
    for s in scores:
        if info.level == "subject":
            items += [Worst(metric, getattr(sub, metric), s, sub) for sub in s.subjects
                      if getattr(sub, metric) is not None]
        elif (value := s.values.get(metric)) is not None:
            items.append(Worst(metric, value, s))
    items.sort(key=lambda w: (w.value if info.higher_better else -w.value, w.score.method, w.score.case))
    return items[:k]


def _fit(im: Image.Image, w: int, h: int) -> Image.Image:
    im = im.convert("RGB")
    scale = min(w / im.width, h / im.height)  # small crops are enlarged too, so every tile reads the same
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    im = im.resize(size, Image.Resampling.NEAREST if scale > 2 else Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (w, h), BG)
    canvas.paste(im, ((w - im.width) // 2, (h - im.height) // 2))
    return canvas


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except OSError:
        return Image.new("RGB", (TILE, TILE), (90, 0, 0))  # a missing file shows as a red tile, not a crash


def _tile(root: Path, w: Worst) -> Image.Image:
    tile = Image.new("RGB", (TILE, TILE + LABEL_H), BG)
    render = _open(root / w.score.render)
    if w.score.canvas and render.size != tuple(w.score.canvas):  # boxes are in canvas pixels, as scored
        width, height = w.score.canvas
        render = render.resize((width, height), Image.Resampling.LANCZOS)
    if w.subject is not None and w.subject.bbox:
        x0, y0, x1, y1 = w.subject.bbox
        crop = render.crop((x0, y0, x1, y1))
        ref = _open(Path(w.subject.reference)) if w.subject.reference else Image.new("RGB", (8, 8), BG)
        tile.paste(_fit(crop, TILE // 2 - 1, TILE), (0, 0))
        tile.paste(_fit(ref, TILE // 2 - 1, TILE), (TILE // 2 + 1, 0))
        label = f"{w.score.case}/{w.subject.subject}"
    else:
        tile.paste(_fit(render, TILE, TILE), (0, 0))
        label = w.score.case
    draw = ImageDraw.Draw(tile)
    # Two lines: the value and method, then the case (and subject). A name too long is shortened in the middle,
    # so `multi_0012_mask_depth` and `multi_0012_box2d` stay told apart by their ends.
    from ..compiler.preview import elide, font

    draw.text((3, TILE + 2), elide(f"{w.value:.1f}  {w.score.method}", TILE - 6, 11), fill=FG, font=font(11))
    draw.text((3, TILE + 16), elide(label, TILE - 6, 11), fill=(200, 200, 200), font=font(11))
    return tile


def worst_grid(root: Path, scores: Sequence[CaseScore], path: Path, k: int = 6,
               metrics: Sequence[str] | None = None) -> Path | None:
    """Write the grid PNG; None when no metric has any value to rank."""
    keys = [m.key for m in METRICS if metrics is None or m.key in metrics]
    rows = [(key, worst_cases(scores, key, k)) for key in keys]
    rows = [(key, ws) for key, ws in rows if ws]
    if not rows:
        return None
    width = HEAD_W + k * (TILE + 4)
    height = len(rows) * (TILE + LABEL_H + 6)
    sheet = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for r, (key, ws) in enumerate(rows):
        y = r * (TILE + LABEL_H + 6)
        info = BY_KEY[key]
        draw.text((6, y + TILE // 2 - 12), info.label, fill=FG, font=font)
        draw.text((6, y + TILE // 2 + 2), "lowest" if info.higher_better else "highest", fill=(160, 160, 160),
                  font=font)
        for c, w in enumerate(ws):
            sheet.paste(_tile(root, w), (HEAD_W + c * (TILE + 4), y))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
