"""VAE latents and prompt embeddings on disk, keyed by a hash of their content and of the encoder.

Training sees each target image and identity dictionary thousands of times and each prompt in one of two forms,
while the encoders (a VAE and a 4.7B-parameter T5) never change; encoding once and reading back saves both the
time and, for the text encoders, the memory (they are freed once every prompt is cached). Keys hash the exact
pixels/text AND a fingerprint of the encoder's weights, so a cache can be shared between runs and datasets and
can never hand back latents of a different VAE. Entries are safetensors written to a temp file and renamed, so
concurrent ranks and killed runs never leave a torn entry; at worst two ranks encode the same thing once.

The encoding itself is the model package's (`prepare_condition_image`, `encode_image_latents`, `pack_latents`):
the same steps as `encode_conditions`, so a cached token equals what inference computes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from ..core.files import atomic_path

if TYPE_CHECKING:
    import torch


def fingerprint(module: Any) -> str:
    """A short hash of a module's config and weights: cheap (a few values per tensor) but weight-sensitive."""
    import torch

    h = hashlib.sha256()
    cfg = getattr(module, "config", None)
    if cfg is not None:
        d = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
        h.update(json.dumps(d, sort_keys=True, default=str).encode())
    h.update(type(module).__name__.encode())
    with torch.no_grad():
        for name, p in module.state_dict().items():
            flat = p.detach().reshape(-1)
            probe = torch.cat([flat[:8], flat[-8:], flat[:: max(1, flat.numel() // 16)][:16]]).float().cpu()
            h.update(name.encode())
            h.update(str(tuple(p.shape)).encode())
            h.update(probe.numpy().tobytes())
    return h.hexdigest()[:16]


def content_key(*parts: Any) -> str:
    """sha256 over arrays (bytes + shape + dtype) and plain values, in order."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            a = np.ascontiguousarray(part)
            h.update(f"nd{a.shape}{a.dtype}".encode())
            h.update(a.tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"|")
    return h.hexdigest()


class TensorCache:
    """A folder of safetensors files, one per key (sharded by the key's first two hex digits)."""

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None
        self.hits = self.misses = 0

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.safetensors"

    def get(self, key: str) -> dict[str, "torch.Tensor"] | None:
        if self.root is None:
            return None
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        p = self._path(key)
        try:
            out = load_file(str(p))
        except (FileNotFoundError, SafetensorError, OSError):
            self.misses += 1
            return None
        self.hits += 1
        return out

    def put(self, key: str, tensors: dict[str, "torch.Tensor"]) -> None:
        if self.root is None:
            return
        from safetensors.torch import save_file

        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        from .checkpoints import writing

        with writing(p), atomic_path(p) as tmp:
            save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(tmp))


class LatentEncoder:
    """Images -> packed clean VAE latent tokens (1, n, 4C), through the on-disk cache."""

    def __init__(self, vae: Any, cache_root: str | Path | None, *, vae_scale_factor: int = 8):
        self.vae = vae
        self.vae_scale_factor = vae_scale_factor
        self.cache = TensorCache(None if cache_root is None else Path(cache_root) / "latents")
        self.fp = fingerprint(vae)

    def encode(self, image: np.ndarray, size: tuple[int, int], *, nearest: bool = False) -> "torch.Tensor":
        """`image` (H, W, 3) uint8 resized to `size` (H, W): bicubic for pictures, nearest for label maps (I_C)."""
        from ..model.layout import encode_image_latents, pack_latents, prepare_condition_image

        key = content_key("latent", self.fp, image, list(size), nearest)
        hit = self.cache.get(key)
        if hit is not None:
            return hit["tokens"]
        pixels = prepare_condition_image(image, size, nearest=nearest)
        tokens = pack_latents(encode_image_latents(self.vae, pixels)).float().cpu()
        self.cache.put(key, {"tokens": tokens})
        return tokens


class PromptEncoder:
    """Prompts -> (T5 embeddings, pooled CLIP) through the on-disk cache.

    Nothing is kept in memory beyond a few recent prompts: at Flux size one prompt is 512 x 4096 values, so a
    27k-sample dataset's prompts are hundreds of gigabytes — disk, not RAM. Stored in `dtype` (the transformer's).
    """

    def __init__(self, pipe: Any, cache_root: str | Path | None, *, max_sequence_length: int, dtype: Any = None,
                 recent: int = 8):
        self.pipe = pipe
        self.max_len = max_sequence_length
        self.dtype = dtype
        self.cache = TensorCache(None if cache_root is None else Path(cache_root) / "text")
        self.fp = content_key(fingerprint(pipe.text_encoder), fingerprint(pipe.text_encoder_2),
                              type(pipe.tokenizer).__name__, type(pipe.tokenizer_2).__name__)[:16]
        self.recent: dict[str, dict[str, "torch.Tensor"]] = {}
        self.keep = recent

    def key(self, prompt: str) -> str:
        return content_key("prompt", self.fp, prompt, self.max_len)

    @property
    def can_encode(self) -> bool:
        return self.pipe.text_encoder is not None and self.pipe.text_encoder_2 is not None

    def _encode(self, prompt: str, device: Any) -> dict[str, "torch.Tensor"]:
        import torch

        if not self.can_encode:
            raise RuntimeError(f"prompt not in the cache and the text encoders were freed: {prompt!r}")
        with torch.no_grad():
            embeds, pooled = self.pipe.encode_prompt(prompt, device=device, max_sequence_length=self.max_len)
        dtype = self.dtype or embeds.dtype
        return {"embeds": embeds[0].to("cpu", dtype), "pooled": pooled[0].to("cpu", dtype)}

    def ensure_cached(self, prompts: Iterable[str], *, device: Any, advance: Any = None) -> int:
        """Encode every prompt missing from the disk cache; returns how many were encoded."""
        if self.cache.root is None:
            raise ValueError("ensure_cached needs a cache folder")
        done = 0
        for prompt in dict.fromkeys(prompts):
            if not self.cache._path(self.key(prompt)).is_file():
                self.cache.put(self.key(prompt), self._encode(prompt, device))
                done += 1
            if advance is not None:
                advance()
        return done

    def __call__(self, prompt: str, *, device: Any = "cpu") -> tuple["torch.Tensor", "torch.Tensor"]:
        """(1, n_txt, D) embeddings and (1, D') pooled vector for one prompt."""
        hit = self.recent.get(prompt)
        if hit is None:
            hit = self.cache.get(self.key(prompt))
            if hit is None:
                hit = self._encode(prompt, device)
                self.cache.put(self.key(prompt), hit)
            if len(self.recent) >= self.keep:
                self.recent.pop(next(iter(self.recent)))
            self.recent[prompt] = hit
        return hit["embeds"][None], hit["pooled"][None]


def encode_example(example: Any, latents: LatentEncoder, prompts: PromptEncoder, *, device: Any,
                   dtype: Any) -> Any:
    """An Example (target, I_S, I_C, prompt) as a `Batch` of tokens on `device`, every encoding through the cache.

    Same steps as `encode_conditions`: I_S at its token-aligned size (bicubic), I_C at the canvas (nearest, its
    routing values are labels), then the token layout and RoPE ids of inference.
    """
    from ..model.layout import condition_image_size, make_layout, sequence_ids
    from .objective import Batch

    h, w = example.target.shape[:2]
    ident_hw = condition_image_size(example.identity.shape[0], example.identity.shape[1], latents.vae_scale_factor)
    x0 = latents.encode(example.target, (h, w))
    s = latents.encode(example.identity, ident_hw)
    c = latents.encode(example.control, (h, w), nearest=True)
    embeds, pooled = prompts(example.prompt, device=device)
    layout = make_layout(embeds.shape[1], (h, w), ident_hw, latents.vae_scale_factor)
    ids = sequence_ids(layout, device=device, dtype=dtype)
    def put(t):
        return t.to(device=device, dtype=dtype)
    return Batch(x0=put(x0), cond=put(torch_cat([s, c])), embeds=put(embeds), pooled=put(pooled),
                 ids=ids, n_tokens=layout.n_x)


def torch_cat(parts: Sequence["torch.Tensor"]) -> "torch.Tensor":
    import torch

    return torch.cat(list(parts), dim=1)
