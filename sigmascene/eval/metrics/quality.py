"""No-reference image quality: CLIP-IQA (prompt pairs on a local CLIP) and MUSIQ (pyiqa, when it can be had).

CLIP-IQA is the prompt-pair method of Wang et al. (2023) exactly as torchmetrics computes it for HF CLIP
models: ``softmax(100 · [cos(img, "Good photo."), cos(img, "Bad photo.")])[0]``, reported × 100. torchmetrics
1.9 itself cannot be used with transformers 5 (it calls ``.norm`` on the output object that
``get_text_features`` now returns), so the same arithmetic is done here on the transformers model; a test
checks it against torchmetrics' own compute step. The paper's numbers come from the original ResNet-50 CLIP-IQA
weights; with a ViT CLIP folder scores are comparable between methods, not to the paper's absolute values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import ModelError
from ..weights import MissingWeights, missing_line
from .embed import ImageEmbedder, TextEmbedder, as_pil, pick_device

QUALITY_PROMPTS = ("Good photo.", "Bad photo.")
LOGIT_SCALE = 100.0


class ClipIQA:
    key, label = "clip_iqa", "CLIP-IQA"

    def __init__(self, embedder: ImageEmbedder, prompts: tuple[str, str] = QUALITY_PROMPTS):
        self.embedder = embedder
        self.anchors = TextEmbedder(embedder, pad_to_max=False).embed(list(prompts))  # (2, D)

    def score(self, images: Sequence[np.ndarray]) -> np.ndarray:
        feats = self.embedder.embed(list(images))
        logits = LOGIT_SCALE * feats @ self.anchors.T
        probs = logits.reshape(len(images), -1, 2).softmax(-1)[:, 0, 0]
        return probs.mul(100.0).numpy().astype(np.float64)


class Musiq:
    """MUSIQ (KonIQ-10k head, 0..100) through pyiqa with a local checkpoint file."""

    key, label = "musiq", "MUSIQ"

    def __init__(self, metric: Any, device: str):
        self.metric, self.device = metric, device

    @classmethod
    def from_path(cls, path: Path | None, device: str | None = None) -> "Musiq":
        problems = []
        try:
            import pyiqa
        except Exception as err:  # noqa: BLE001 - ImportError, or a torchvision ABI error while pyiqa imports it
            problems.append(f"the pyiqa package (import failed: {type(err).__name__}; pyiqa needs torchvision, "
                            "which has no CPU build that fits this torch)")
        if path is None:
            if problems:
                raise MissingWeights(f"MUSIQ skipped: needs {problems[0]} and a MUSIQ checkpoint (--musiq FILE)")
            raise MissingWeights(missing_line("musiq", "MUSIQ"))
        if not Path(path).is_file():
            raise ModelError(f"MUSIQ: checkpoint {path} does not exist",
                             hint="pass the .pth file of pyiqa's MUSIQ weights (nothing is ever downloaded)")
        if problems:
            raise MissingWeights(f"MUSIQ skipped: needs {problems[0]}")
        import pyiqa

        dev = pick_device(device)
        # Passing pretrained_model_path makes pyiqa load the local file instead of its release URL.
        return cls(pyiqa.create_metric("musiq", device=dev, as_loss=False, pretrained_model_path=str(path)), dev)

    def score(self, images: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for im in images:  # MUSIQ is multi-scale on the native resolution: one image at a time
                x = torch.from_numpy(np.asarray(as_pil(im), dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
                out.append(float(self.metric(x.to(self.device)).reshape(-1)[0]))
        return np.asarray(out, dtype=np.float64)
