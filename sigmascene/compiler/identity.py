"""The identity dictionary I_S: each reference fitted into an H' x W' block, stacked far -> near.

Block k (0-based from the top) belongs to the subject with routing intensity 10(k+1): that position is the
only link between a region of the routing maps and its appearance. References keep their aspect ratio (a
stretched face is a different identity), are centred, and padded with white — the background that segmented,
re-posed subject images of the training data have.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SourceLoc
from .assets import cached, load_rgb

PAD = 255
UPSCALE_WARNING = 2.0  # a reference blown up more than this is soft in its block


@dataclass
class Block:
    source_size: tuple[int, int]  # (width, height) of the reference file
    scale: float  # how much it was resized to fit
    placed: tuple[int, int, int, int]  # (x0, y0, x1, y1) of the picture inside its block


def fit(rgb: np.ndarray, height: int, width: int) -> tuple[np.ndarray, Block]:
    """Resize (Lanczos, aspect kept) and centre `rgb` on a white height x width block."""
    from PIL import Image

    h0, w0 = rgb.shape[:2]
    scale = min(height / h0, width / w0)
    nw, nh = max(1, min(width, round(w0 * scale))), max(1, min(height, round(h0 * scale)))
    pic = rgb if (nw, nh) == (w0, h0) else np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.Resampling.LANCZOS))
    block = np.full((height, width, 3), PAD, np.uint8)
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    block[y0:y0 + nh, x0:x0 + nw] = pic
    block.setflags(write=False)
    return block, Block((w0, h0), scale, (x0, y0, x0 + nw, y0 + nh))


def reference_block(path: Path, loc: SourceLoc | None, height: int, width: int) -> tuple[np.ndarray, Block]:
    """The fitted block of one reference file, cached with the file's (mtime, size)."""
    rgb = load_rgb(path, loc, "reference")
    return cached("block", path, (height, width), lambda: fit(rgb, height, width))


def stack(blocks: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """(N * H') x W' x 3; an empty scene still gets one white block so the image is never 0 pixels tall."""
    if not blocks:
        return np.full((height, width, 3), PAD, np.uint8)
    return np.concatenate(blocks, axis=0)
