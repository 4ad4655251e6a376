"""A colour descriptor of toy-world identities that survives a new pose, a new light and a new renderer.

A toy-world identity *is* its colours (18 named colours, two per subject) and how much of each its pattern
shows; its shape and pattern are seen from another side in the identity image anyway. So a region is described
by a histogram over a lighting-robust colour space:

* chromatic pixels (HSV saturation >= `SAT_SPLIT`): 12 hue sectors x 2 saturation levels, so red vs pink and
  blue vs light blue stay apart while warm/cool light tints (a small hue shift) move a pixel by at most one bin.
  Brightness is left out on purpose: shading and the room's dim lamps made a lit blue look like the scene's
  navy and cream like brown far more often than brightness told two identities apart (measured on held-out
  scenes: ground-truth identity accuracy 90 % with a value split, 95 % without);
* achromatic pixels: 3 value levels (black, grey, white).

Each pixel votes softly into its two nearest hue sectors, so a tint never flips a whole colour into another
bin. Two histograms are compared by the Bhattacharyya coefficient (1 = same distribution, 0 = disjoint).
The identity image's foreground is everything that is not its pure white backdrop.
"""

from __future__ import annotations

import numpy as np

HUES = 12
SAT_SPLIT = 0.3
SAT_HIGH = 0.65
GREYS = 3
BINS = HUES * 2 + GREYS
WHITE_BACKDROP = 250  # identity images are rendered on pure white; object pixels stay below in some channel


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = rgb.astype(np.float32) / 255.0
    mx, mn = x.max(axis=-1), x.min(axis=-1)
    d = mx - mn
    s = np.where(mx > 1e-6, d / np.maximum(mx, 1e-6), 0.0)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    dd = np.maximum(d, 1e-6)
    h = np.where(mx == r, ((g - b) / dd) % 6, np.where(mx == g, (b - r) / dd + 2, (r - g) / dd + 4)) / 6.0
    return h % 1.0, s, mx


def histogram(pixels: np.ndarray) -> np.ndarray:
    """Normalised descriptor of an (M, 3) uint8 pixel list; all zeros for no pixels."""
    out = np.zeros(BINS, dtype=np.float64)
    px = np.asarray(pixels).reshape(-1, 3)
    if len(px) == 0:
        return out
    h, s, v = _hsv(px)
    chroma = s >= SAT_SPLIT
    # achromatic: value levels
    grey = np.clip((v[~chroma] * GREYS).astype(int), 0, GREYS - 1)
    np.add.at(out, HUES * 2 + grey, 1.0)
    # chromatic: soft hue sectors x saturation
    hc, sc = h[chroma] * HUES, s[chroma]
    lo = np.floor(hc - 0.5).astype(int)
    frac = (hc - 0.5) - lo
    sub = (sc >= SAT_HIGH).astype(int)
    np.add.at(out, (lo % HUES) * 2 + sub, 1.0 - frac)
    np.add.at(out, ((lo + 1) % HUES) * 2 + sub, frac)
    return out / out.sum()


def region_histogram(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return histogram(np.asarray(image)[np.asarray(mask, dtype=bool)])


def foreground(identity: np.ndarray) -> np.ndarray:
    """The subject's pixels in an identity image: everything off the white backdrop."""
    return np.asarray((np.asarray(identity)[..., :3] < WHITE_BACKDROP).any(axis=-1))


def reference_histogram(identity: np.ndarray) -> np.ndarray:
    fg = foreground(identity)
    return region_histogram(identity, fg if fg.any() else np.ones(fg.shape, dtype=bool))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya coefficient of two normalised histograms."""
    return float(np.sqrt(np.clip(a, 0, None) * np.clip(b, 0, None)).sum())
