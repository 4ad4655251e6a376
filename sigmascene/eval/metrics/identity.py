"""Identity preservation (DINO-I, SigLIP-I): each subject's crop of the output against its reference image.

The crop is the bounding box of the subject's region in the scene (its compiled coverage, whatever the placement
kind), with pixels outside the region painted the reference background colour: SIGMA references are
isolated subjects, so comparing them against a crop full of neighbouring subjects would measure the layout,
not the identity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from ...errors import AssetError
from .embed import ImageEmbedder, cosine100

WHITE = (255, 255, 255)


def crop_subject(image: np.ndarray, region: np.ndarray, fill: tuple[int, int, int] | None = WHITE) -> np.ndarray | None:
    """The region's bounding-box crop of an H×W×3 image, outside-region pixels set to `fill`; None if empty."""
    region = np.asarray(region, dtype=bool)
    if region.shape != image.shape[:2]:
        raise ValueError(f"region {region.shape} does not match image {image.shape[:2]}")
    ys, xs = np.nonzero(region)
    if ys.size == 0:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = np.array(image[y0:y1, x0:x1, :3], dtype=np.uint8, copy=True)
    if fill is not None:
        crop[~region[y0:y1, x0:x1]] = np.asarray(fill, dtype=np.uint8)
    return crop


def load_reference(path: Path, background: tuple[int, int, int] = WHITE) -> np.ndarray:
    """A reference image as RGB; transparent pixels are composited on `background`, like the crops' fill."""
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA", "P") and ("transparency" in im.info or im.mode != "P"):
                rgba = im.convert("RGBA")
                bg = Image.new("RGBA", rgba.size, background + (255,))
                return np.asarray(Image.alpha_composite(bg, rgba).convert("RGB"))
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise AssetError(f"reference image {path} does not exist") from None
    except OSError as err:
        raise AssetError(f"cannot read reference image {path}: {err}") from None


class IdentityMetric:
    """Cosine similarity × 100 between crop and reference embeddings; references embedded once per path."""

    def __init__(self, key: str, label: str, embedder: ImageEmbedder):
        self.key, self.label, self.embedder = key, label, embedder
        self._ref_cache: dict[str, Any] = {}

    def reference_embeddings(self, refs: Sequence[tuple[str, np.ndarray]]) -> Any:
        import torch

        todo = [(k, im) for k, im in refs if k not in self._ref_cache]
        if todo:
            for (k, _), emb in zip(todo, self.embedder.embed([im for _, im in todo])):
                self._ref_cache[k] = emb
        return torch.stack([self._ref_cache[k] for k, _ in refs])

    def score(self, crops: Sequence[np.ndarray], refs: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
        """One score per (crop, reference) pair; `refs` are (cache key, image) so repeats embed once."""
        if len(crops) != len(refs):
            raise ValueError("one reference per crop")
        if not crops:
            return np.zeros(0)
        return cosine100(self.embedder.embed(list(crops)), self.reference_embeddings(refs))
