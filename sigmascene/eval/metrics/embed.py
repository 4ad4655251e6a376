"""Global image and text embeddings from transformers backbones (DINOv2, SigLIP, CLIP) loaded from local folders.

The identity and text metrics are all "cosine similarity of two embeddings × 100"; they differ only in which
backbone embeds what, so the embedding code lives here once and the metrics stay a few lines each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from ...errors import ModelError
from ..weights import load_pretrained

BATCH = 16


def pick_device(device: str | None = None) -> str:
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def features(out: Any) -> Any:
    """A feature tensor from `get_*_features`, which returns a tensor (transformers 4) or an output (5)."""
    import torch

    if isinstance(out, torch.Tensor):
        return out
    pooled = getattr(out, "pooler_output", None)
    if pooled is None:
        raise ModelError(f"the model returned {type(out).__name__} without pooled features")
    return pooled


def normalise(x: Any) -> Any:
    return x / x.norm(p=2, dim=-1, keepdim=True).clamp_min(1e-12)


def as_pil(image: Image.Image | np.ndarray) -> Image.Image:
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return Image.fromarray(arr[..., :3] if arr.ndim == 3 else arr).convert("RGB")


class ImageEmbedder:
    """L2-normalised image embeddings. `kind` = "cls" (DINO: the class token) or "projected" (SigLIP/CLIP)."""

    def __init__(self, model: Any, processor: Any, kind: str, device: str | None = None, name: str = "model"):
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.processor = processor
        self.kind = kind
        self.name = name

    @classmethod
    def dino(cls, folder: Path, device: str | None = None) -> "ImageEmbedder":
        from transformers import AutoImageProcessor, AutoModel

        model = load_pretrained(AutoModel, folder, "DINO image encoder")
        if not hasattr(model.config, "hidden_size") or hasattr(model, "get_text_features"):
            raise ModelError(f"{folder} holds a {type(model).__name__}, not a DINO/ViT image encoder")
        return cls(model, load_pretrained(AutoImageProcessor, folder, "DINO image processor"), "cls", device,
                   name=type(model).__name__)

    @classmethod
    def contrastive(cls, folder: Path, what: str, device: str | None = None) -> "ImageEmbedder":
        """SigLIP or CLIP: an image-text model whose projected image features share a space with text."""
        model, processor = load_contrastive(folder, what)
        return cls(model, processor, "projected", device, name=type(model).__name__)

    def embed(self, images: Sequence[Image.Image | np.ndarray]) -> Any:
        """(N, D) unit vectors, computed in batches so a large set never holds every crop's activations."""
        import torch

        chunks = []
        with torch.inference_mode():
            for i in range(0, len(images), BATCH):
                batch = [as_pil(im) for im in images[i:i + BATCH]]
                proc = getattr(self.processor, "image_processor", self.processor)
                pixels = proc(images=batch, return_tensors="pt")["pixel_values"].to(self.device)
                if self.kind == "cls":
                    feats = self.model(pixel_values=pixels).last_hidden_state[:, 0]
                else:
                    feats = features(self.model.get_image_features(pixel_values=pixels))
                chunks.append(normalise(feats.float()).cpu())
        if not chunks:
            return torch.zeros((0, 1))
        return torch.cat(chunks)


class TextEmbedder:
    """L2-normalised text embeddings from the text tower of a SigLIP/CLIP model (shared with its ImageEmbedder)."""

    def __init__(self, image_embedder: ImageEmbedder, pad_to_max: bool):
        self.image = image_embedder  # SigLIP-T embeds the output with the same model's image tower
        self.model = image_embedder.model
        self.device = image_embedder.device
        self.tokenizer: Any = getattr(image_embedder.processor, "tokenizer", None)
        if self.tokenizer is None:
            raise ModelError(f"the {image_embedder.name} folder has no tokenizer; text metrics need one")
        self.pad_to_max = pad_to_max  # SigLIP was trained on max-length padded text; CLIP on EOS pooling

    def max_length(self) -> int:
        cfg = getattr(self.model.config, "text_config", self.model.config)
        limit = int(getattr(cfg, "max_position_embeddings", 77))
        tok_max = getattr(self.tokenizer, "model_max_length", limit) or limit
        return int(min(limit, tok_max))

    def embed(self, texts: Sequence[str]) -> Any:
        import torch

        chunks = []
        with torch.inference_mode():
            for i in range(0, len(texts), BATCH):
                enc = self.tokenizer(list(texts[i:i + BATCH]), padding="max_length" if self.pad_to_max else True,
                                     truncation=True, max_length=self.max_length(), return_tensors="pt")
                kwargs = {"input_ids": enc["input_ids"].to(self.device)}
                if not self.pad_to_max and "attention_mask" in enc:
                    kwargs["attention_mask"] = enc["attention_mask"].to(self.device)
                chunks.append(normalise(features(self.model.get_text_features(**kwargs)).float()).cpu())
        return torch.cat(chunks) if chunks else torch.zeros((0, 1))


def load_contrastive(folder: Path, what: str) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoProcessor

    model = load_pretrained(AutoModel, folder, what)
    if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
        raise ModelError(f"{folder} holds a {type(model).__name__}, not an image-text model ({what})")
    return model, load_pretrained(AutoProcessor, folder, f"{what} processor")


def cosine100(a: Any, b: Any) -> np.ndarray:
    """Row-wise cosine similarity × 100 of two (N, D) unit-vector tensors, clipped to [-100, 100] so float
    rounding cannot push identical inputs past the maximum."""
    return np.clip((a * b).sum(-1).mul(100.0).numpy().astype(np.float64), -100.0, 100.0)
