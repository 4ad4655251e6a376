"""The flow-matching objective exactly as Flux (and so Kontext) was trained, restricted to the X tokens.

Rectified flow: x_t = (1 - t) x0 + t noise, and the network predicts the velocity dx_t/dt = noise - x0. The
sampler (`SigmaPipeline`) integrates exactly that velocity from t = 1 to 0, so this target is the one inference
consumes. Timesteps follow Flux's training: t = sigmoid(N(mean, std)) — most samples at mid noise, where the
loss is most informative — then the resolution-dependent shift t' = e^mu / (e^mu + 1/t - 1) with mu from the
number of image tokens, the same `calculate_shift` the pipeline uses at inference, so larger images train at
higher noise like they are sampled. The conditions I_S and I_C enter clean (timestep 0) and only X's prediction
is scored: they are context, not outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

import torch
import torch.nn.functional as F


def sample_timesteps(n: int, *, scheme: str, n_tokens: int, scheduler_config: Any = None, mean: float = 0.0,
                     std: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n,) timesteps in (0, 1): `flux` (logit-normal + shift), `logit_normal` (no shift) or `uniform`."""
    if scheme == "uniform":
        return torch.rand(n, generator=generator).clamp(1e-5, 1 - 1e-5)
    u = torch.sigmoid(mean + std * torch.randn(n, generator=generator))
    if scheme == "logit_normal":
        return u
    if scheme != "flux":
        raise ValueError(f"unknown timestep scheme {scheme!r}")
    from ..model.pipeline import calculate_shift

    cfg = dict(scheduler_config or {})
    mu = calculate_shift(n_tokens, cfg.get("base_image_seq_len", 256), cfg.get("max_image_seq_len", 4096),
                         cfg.get("base_shift", 0.5), cfg.get("max_shift", 1.15))
    return math.exp(mu) / (math.exp(mu) + (1.0 / u - 1.0))


@dataclass
class Batch:
    """One example as tensors: the clean target tokens X0 and everything the forward needs besides X."""

    x0: torch.Tensor  # (1, n_x, C) clean latent tokens of the target
    cond: torch.Tensor  # (1, n_s + n_c, C) clean tokens [I_S, I_C]
    embeds: torch.Tensor  # (1, n_txt, D)
    pooled: torch.Tensor  # (1, D')
    ids: dict[str, torch.Tensor]  # RoPE ids: txt, x, cond
    n_tokens: int  # X tokens (sets the timestep shift)
    weight: Optional[torch.Tensor] = None  # (1, n_x, 1) per-token loss weight; None = plain MSE


def subject_token_weights(control: np.ndarray, token_px: int, subject_weight: float) -> torch.Tensor:
    """(1, n_x, 1) loss weights: 1 on background, `subject_weight` on tokens covered by subjects (pro rata).

    Why: at toy canvases a subject covers a handful of the 64 X tokens, so in a plain mean the background
    outweighs the routing and identity signal many times over. Coverage comes from I_C's ascending routing
    channel (subject k = 10 k, background 0), pooled over each token's `token_px` square, in the row-major order
    `pack_latents` uses.
    """
    h, w = control.shape[:2]
    covered = (np.asarray(control)[..., 0] > 0).astype(np.float32)
    tiles = covered[: h - h % token_px, : w - w % token_px].reshape(h // token_px, token_px, w // token_px, token_px)
    coverage = torch.from_numpy(tiles.mean(axis=(1, 3)).reshape(1, -1, 1))
    return 1.0 + (subject_weight - 1.0) * coverage


def flow_matching_loss(model: Any, batch: Batch, *, noise: torch.Tensor, t: torch.Tensor,
                       guidance: float | None, condition_mask: bool) -> torch.Tensor:
    """MSE between the predicted velocity of X and noise - x0 (weighted per token when the batch carries
    weights); `model` is a `Denoiser` (or its DDP wrapper)."""
    x0 = batch.x0
    tt = t.to(x0.device, torch.float32).view(-1, 1, 1)
    x_t = ((1.0 - tt) * x0.float() + tt * noise.float()).to(x0.dtype)
    g = None if guidance is None else torch.full((x0.shape[0],), float(guidance), device=x0.device)
    v = model(hidden_states=x_t, cond_tokens=batch.cond, encoder_hidden_states=batch.embeds,
              pooled_projections=batch.pooled, timestep=t.to(x0.device, x0.dtype), guidance=g,
              txt_ids=batch.ids["txt"], x_ids=batch.ids["x"], cond_ids=batch.ids["cond"],
              condition_mask=condition_mask)
    if batch.weight is None:
        return F.mse_loss(v.float(), (noise.float() - x0.float()))
    per_token = ((v.float() - (noise.float() - x0.float())) ** 2).mean(dim=-1, keepdim=True)
    w = batch.weight.to(per_token.device, torch.float32).expand_as(per_token)
    return (w * per_token).sum() / w.sum()
