"""Identity, occlusion and placement of one image, judged against the known toy world.

Every metric is a count of binary decisions, each made by comparing colour descriptors (`descriptor.py`) of
image regions with the scene's identity images, so a cell of the table is "hits / decisions" and each metric
has a known chance level:

* **identity** — per subject with a visible region: the region's descriptor is closer to the subject's own
  identity image than to every other identity image of the scene. Chance 1/N.
* **occlusion** — per ordered pair (near, far) whose *full* silhouettes overlap where the near one is visible in
  the ground truth: that overlap looks more like the near subject's identity than the far one's. Chance 1/2.
* **placement** — per subject: its visible region looks more like its identity than a band of background of
  the same area just outside its silhouette does (the subject is where the file put it, not beside it).
  Chance 1/2.

Regions come from the ground truth (visible masks, full silhouettes), never from the image being judged, so a
render and the ground-truth image are measured with the same yardstick. A render of another size is resized to
the ground truth's first, and its exposure is matched to the ground truth's (`match_exposure`). Regions under
`MIN_PX` pixels make no decision (too few pixels for a histogram).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from .descriptor import reference_histogram, region_histogram, similarity
from .world import ToyScene

MIN_PX = 12
ERODE_PX = 1  # mask edges are anti-aliased blends of subject and background
GAP_PX = 2  # the background band starts this far from any silhouette


@dataclass
class Tally:
    hits: int = 0
    total: int = 0

    def add(self, hit: bool) -> None:
        self.hits += int(bool(hit))
        self.total += 1

    def merge(self, other: "Tally") -> None:
        self.hits += other.hits
        self.total += other.total

    @property
    def rate(self) -> Optional[float]:
        return self.hits / self.total if self.total else None


@dataclass
class SceneScore:
    identity: Tally = field(default_factory=Tally)
    occlusion: Tally = field(default_factory=Tally)
    placement: Tally = field(default_factory=Tally)

    def merge(self, other: "SceneScore") -> None:
        for k in METRICS:
            getattr(self, k).merge(getattr(other, k))

    @classmethod
    def from_dict(cls, d: dict) -> "SceneScore":
        return cls(**{k: Tally(*d[k]) for k in METRICS})


METRICS = ("identity", "occlusion", "placement")


def _erode(mask: np.ndarray, px: int) -> np.ndarray:
    from scipy.ndimage import binary_erosion

    return binary_erosion(mask, iterations=px) if px > 0 else mask


def fit_image(image, shape: tuple[int, int]) -> np.ndarray:
    """An RGB uint8 array at the ground truth's size (renders at another canvas are resized, bilinear)."""
    from PIL import Image

    im = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    im = im.convert("RGB")
    if im.size != (shape[1], shape[0]):
        im = im.resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.asarray(im)


def match_exposure(image: np.ndarray, truth: np.ndarray, percentile: float = 98.0) -> np.ndarray:
    """Scale `image` so its bright end matches the ground truth's (gain within 0.5-2).

    The descriptor keeps three grey levels, so a render that is merely darker overall would turn its white
    subjects grey and lose identity decisions it deserves (measured: a ground-truth image at 60 % exposure lost
    6-10 identity points; matched, under 1). Only a global gain is applied, so colours and contrasts stay.
    """
    cur = float(np.percentile(image.max(axis=-1), percentile))
    ref = float(np.percentile(np.asarray(truth).max(axis=-1), percentile))
    gain = float(np.clip(ref / max(cur, 1.0), 0.5, 2.0))
    if abs(gain - 1.0) < 1e-3:
        return image
    return np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def background_band(full: Sequence[np.ndarray], k: int, area: int) -> np.ndarray:
    """About `area` background pixels nearest to subject k's silhouette, at least GAP_PX from every silhouette."""
    from scipy.ndimage import distance_transform_edt

    any_full = np.any(np.stack(full), axis=0)
    from_any = distance_transform_edt(~any_full)
    from_k = distance_transform_edt(~full[k])
    ok = from_any > GAP_PX
    if not ok.any() or area <= 0:
        return np.zeros_like(any_full)
    d = from_k[ok]
    cut = np.partition(d, min(area, d.size) - 1)[min(area, d.size) - 1]
    return ok & (from_k <= cut)


@dataclass
class Regions:
    """The ground-truth regions one scene's decisions use; computed once, reused for every image scored."""

    visible: list[np.ndarray]
    bands: list[np.ndarray]
    overlaps: list[tuple[int, int, np.ndarray]]  # (near, far, pixels)


def scene_regions(scene: ToyScene) -> Regions:
    visible = [_erode(m, ERODE_PX) for m in scene.visible]
    bands = [background_band(scene.full, k, int(m.sum())) for k, m in enumerate(visible)]
    overlaps = []
    n = len(scene.full)
    for a in range(n):
        for b in range(n):
            if a != b:
                px = _erode(scene.full[a] & scene.full[b] & scene.visible[a], ERODE_PX)
                if px.sum() >= MIN_PX:
                    overlaps.append((a, b, px))
    return Regions(visible, bands, overlaps)


def score_image(image, scene: ToyScene, regions: Optional[Regions] = None, *,
                refs: Optional[Sequence[int]] = None, places: Optional[Sequence[int]] = None,
                identities: Optional[Sequence[np.ndarray]] = None) -> SceneScore:
    """Score `image` against `scene`.

    `refs[k]` is the identity image subject k is judged against (default: its own) and `places[k]` whose regions
    stand for subject k (default: its own): permuting either is how the validation builds chance-level inputs.
    `identities` replaces the scene's identity images (the validation passes another scene's).
    """
    regions = regions or scene_regions(scene)
    img = match_exposure(fit_image(image, scene.image.shape[:2]), scene.image)
    n = len(scene.visible)
    refs = list(range(n)) if refs is None else list(refs)
    places = list(range(n)) if places is None else list(places)
    pool = scene.identities if identities is None else list(identities)
    ref_h = [reference_histogram(pool[refs[k]]) for k in range(n)]
    out = SceneScore()
    for k in range(n):
        region = regions.visible[places[k]]
        if region.sum() < MIN_PX:
            continue
        h = region_histogram(img, region)
        sims = [similarity(h, r) for r in ref_h]
        out.identity.add(all(sims[k] > s for j, s in enumerate(sims) if j != k))
        band = regions.bands[places[k]]
        if band.sum() >= MIN_PX:
            out.placement.add(sims[k] > similarity(region_histogram(img, band), ref_h[k]))
    for near, far, px in regions.overlaps:
        h = region_histogram(img, px)
        out.occlusion.add(similarity(h, ref_h[near]) > similarity(h, ref_h[far]))
    return out
