"""What the numbers look like: a few held-out scenes, one row per subject count, as ground truth, the identity
references and routing map the model was given, and each mode's render side by side.

A table of percentages says whether the model works; this sheet lets a person see how it fails (right colours
in the wrong place, one blob for every subject, nearer subjects hidden). Rendered pictures are small (the demo's
64 px), so each cell is scaled up with nearest-neighbour: pixels stay pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..evalset import Case, EvalSet

CELL = 128
LABEL_W = 56
TITLE_H = 24
GAP = 4
BG = (245, 245, 242)
INK = (40, 40, 40)


def pick_cases(evalset: EvalSet, counts: Sequence[int], rows: int = 5) -> list[Case]:
    """The first case of up to `rows` subject counts spread over the range (always the smallest and largest)."""
    counts = sorted(set(counts))
    if len(counts) > rows:
        idx = np.unique(np.round(np.linspace(0, len(counts) - 1, rows)).astype(int))
        counts = [counts[i] for i in idx]
    first: dict[int, Case] = {}
    for case in evalset.cases:
        n = _subject_count(case)
        if n in counts and n not in first:
            first[n] = case
    return [first[n] for n in counts if n in first]


def _subject_count(case: Case) -> Optional[int]:
    """Toy-world case ids start with nNN (see world.case_id)."""
    head = case.id.split("-", 1)[0]
    return int(head[1:]) if head[:1] == "n" and head[1:].isdigit() else None


def _cell(image, size: int = CELL):
    from PIL import Image

    return image.convert("RGB").resize((size, size), Image.Resampling.NEAREST)


def references_picture(compiled, size: int = CELL):
    """The identity dictionary as a grid in one cell, each block framed in its routing colour."""
    import math

    from PIL import Image, ImageDraw

    from ...compiler.preview import palette

    n = len(compiled.order)
    side = math.ceil(math.sqrt(n))
    step = size // side
    bh = compiled.block_size[0]
    cell = Image.new("RGB", (size, size), BG)
    draw = ImageDraw.Draw(cell)
    for k, colour in enumerate(palette(n)):
        x, y = (k % side) * step, (k // side) * step
        block = Image.fromarray(compiled.identity[k * bh:(k + 1) * bh]).resize((step - 4, step - 4),
                                                                               Image.Resampling.BILINEAR)
        draw.rectangle((x, y, x + step - 1, y + step - 1), fill=colour)
        cell.paste(block, (x + 2, y + 2))
    return cell


def example_sheet(evalset: EvalSet, counts: Sequence[int], folders: dict[str, Path], rows: int = 5):
    """A PIL image (or None when no picked scene has a finished render in every mode).

    folders: mode -> the renders/ folder of that mode (a case counts only when every mode has finished it).
    """
    from PIL import Image, ImageDraw

    import sigmascene

    from ...data.io import resolve
    from ...compiler.preview import font, routing_picture
    from ..runner import is_finished

    picked = [c for c in pick_cases(evalset, counts, rows)
              if all(is_finished(folder, c.id) for folder in folders.values())]
    if not picked:
        return None
    titles = ["ground truth", "references I_S", "routing map I_C", *folders]
    width = LABEL_W + len(titles) * (CELL + GAP)
    sheet = Image.new("RGB", (width, TITLE_H + len(picked) * (CELL + GAP)), BG)
    draw = ImageDraw.Draw(sheet)
    for j, t in enumerate(titles):
        draw.text((LABEL_W + j * (CELL + GAP) + 2, 5), t, font=font(12, bold=True), fill=INK)
    for i, case in enumerate(picked):
        sample, root = evalset.load_sample(case)
        compiled = sigmascene.compile(evalset.load_scene(case))
        with Image.open(resolve(root, sample.image)) as truth:
            cells = [_cell(truth), references_picture(compiled), _cell(routing_picture(compiled, (CELL, CELL)))]
        for folder in folders.values():
            with Image.open(folder / f"{case.id}.png") as im:
                cells.append(_cell(im))
        y = TITLE_H + i * (CELL + GAP)
        draw.text((6, y + CELL // 2 - 8), f"N={len(compiled.order)}", font=font(14, bold=True), fill=INK)
        for j, c in enumerate(cells):
            sheet.paste(c, (LABEL_W + j * (CELL + GAP), y))
    return sheet
