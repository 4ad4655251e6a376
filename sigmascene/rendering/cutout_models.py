"""Cut-outs by a segmentation model: the data recipe's detector + SAM (data/recipe/stages/segment.py,
`GroundedSegmenter`) pointed at a reference image, for references with no alpha and no `matte`.

`--segmenter DIR` names a SAM-family transformers folder (sam, sam2, sam_hq, edgetam); `--detector DIR`, optional,
names a zero-shot detector (Grounding DINO, OWLv2, ...) that finds the subject's caption first. Without a detector
SAM is prompted with the whole reference as its box: a reference photo is mostly its subject. Models are loaded
once per process and folder pair (the editor renders many times).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.recipe.models import DETECTORS, SEGMENTERS
from ..data.recipe.stages.segment import GroundedSegmenter, match
from ..errors import ConfigError

if TYPE_CHECKING:
    from PIL import Image

BOX_THRESHOLD = 0.05  # a detection below this score is ignored (SAM then gets the whole reference)


def _model_type(folder: Path, flag: str, allowed: tuple[str, ...]) -> str:
    path = folder / "config.json"
    if not folder.is_dir():
        raise ConfigError(f"{flag} {folder}: no such folder", hint="models are read from local folders only")
    try:
        kind = str(json.loads(path.read_text(encoding="utf-8")).get("model_type", ""))
    except (OSError, ValueError):
        raise ConfigError(f"{flag} {folder} is not a transformers model folder (no readable config.json)") from None
    if kind not in allowed:
        raise ConfigError(f"{flag} {folder} holds a `{kind or 'unknown'}` model; it must be one of: "
                          f"{', '.join(allowed)}")
    return kind


def check_cutout_models(segmenter: str | Path | None, detector: str | Path | None) -> tuple[Path | None,
                                                                                         Path | None]:
    """The folders resolved and checked (exists, a model of the right family), before anything loads."""
    if segmenter is None:
        if detector is not None:
            raise ConfigError("--detector finds the subject for a segmentation model, but no --segmenter is given",
                              hint="add --segmenter SAM_DIR")
        return None, None
    seg = Path(segmenter).expanduser().resolve()
    _model_type(seg, "--segmenter", SEGMENTERS)
    det = None
    if detector is not None:
        det = Path(detector).expanduser().resolve()
        _model_type(det, "--detector", DETECTORS)
    return seg, det


class RecipeSegmenter:
    """A `compiler.cutouts.Segmenter` on the recipe's GroundedSegmenter."""

    def __init__(self, segmenter: Path, detector: Path | None, device: Any, dtype: Any):
        self.model = GroundedSegmenter(segmenter, detector, device, dtype)
        self.id = ";".join(f"{p}#{_config_hash(p)}" for p in (segmenter, detector) if p is not None)

    def __call__(self, image: "Image.Image", caption: str) -> np.ndarray | None:
        w, h = image.size
        box = [0.0, 0.0, float(w), float(h)]
        if self.model.m_det is not None:
            boxes, labels, scores = self.model.detect(image, [caption])
            pairs = match(1, labels, scores, BOX_THRESHOLD)
            if 0 in pairs:
                box = boxes[pairs[0]]
        mask = self.model.segment(image, [box])[0]
        return mask if mask.any() else None


def _config_hash(folder: Path) -> str:
    import hashlib

    return hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()[:16]


@lru_cache(maxsize=2)
def load_segmenter(segmenter: Path, detector: Path | None, device: str = "auto") -> RecipeSegmenter:
    """The segmenter for these folders, loaded once per process (fp32 on CPU, bf16 on a GPU)."""
    from ..model.loading import compute_dtype, resolve_device

    dev = resolve_device(device)
    return RecipeSegmenter(segmenter, detector, dev, compute_dtype("auto", dev))
