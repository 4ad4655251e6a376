"""Boxes of masks, the one definition every floor uses (the compiler's manifest, the layout pictures, the cut-outs,
the dataset tools and eval)."""

from __future__ import annotations

import numpy as np


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Tight pixel-edge box (x0, y0, x1, y1) of the non-zero pixels, None when the mask is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
