"""Depth alignment: how well the output's estimated depth follows the scene's structure channel (I_T).

Normalisation (the number in the MSE column): I_T is the B channel of the control image, an encoded inverse
depth on 0..255 that is non-zero only where the user gave geometry. A monocular estimator only knows depth up
to an unknown scale and shift, so its inverse depth d̂ (metric estimators are inverted first) is aligned to
I_T by least squares, ``min_{s>=0,t} Σ (s·d̂ + t − I_T)²`` over the evaluated pixels — those inside a subject
region (IR_asc > 0) with I_T > 0, one fit per image so the subjects' relative depth counts — and the MSE is
``mean((s·d̂ + t − I_T)²)`` there, on the 0..255 scale like the paper. ``s`` is kept non-negative so an image
whose depth is inverted cannot score well by flipping the estimate. A perfect depth scores 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import ModelError
from ...core.vocab import routing_intensity
from ..weights import load_pretrained
from .embed import as_pil, pick_device

METRIC_DEPTH_MODELS = {"zoedepth", "depth_pro", "glpn"}


@dataclass
class DepthResult:
    mse: float
    pixels: int
    scale: float
    shift: float
    per_subject: dict[str, float] = field(default_factory=dict)


def align_scale_shift(pred: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Least-squares (s, t) with s >= 0 for s·pred + t ≈ target, over 1-D arrays of matched pixels."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    pm, ps, tm = pred.mean(), pred.std(), target.mean()
    if not ps > 0:  # a constant estimate carries no depth: the best it can do is the mean
        return 0.0, float(tm)
    z = (pred - pm) / ps  # standardised first, so estimators with tiny or huge output ranges fit equally well
    a = max(float((z * (target - tm)).mean()), 0.0)  # the constrained optimum lies on s = 0 when s < 0
    s = a / ps
    return s, float(tm - s * pm)


def depth_mse(pred_inverse: np.ndarray, control: np.ndarray, order: Sequence[str]) -> DepthResult | None:
    """Scale-and-shift-aligned MSE of an estimated inverse depth against the control's I_T, or None when the
    scene gave no depth (plain 2D boxes): then the metric does not apply, as the paper's "-" for Bbox."""
    control = np.asarray(control)
    pred = np.asarray(pred_inverse, dtype=np.float64)
    if pred.shape != control.shape[:2]:
        raise ValueError(f"depth estimate {pred.shape} does not match the control map {control.shape[:2]}")
    routing, structure = control[..., 0], control[..., 2].astype(np.float64)
    valid = (routing > 0) & (structure > 0) & np.isfinite(pred)
    n = int(valid.sum())
    if n == 0:
        return None
    s, t = align_scale_shift(pred[valid], structure[valid])
    err = np.square(s * pred + t - structure)
    out = DepthResult(mse=float(err[valid].mean()), pixels=n, scale=s, shift=t)
    for k, name in enumerate(order, start=1):
        sel = valid & (routing == routing_intensity(k))
        if sel.any():
            out.per_subject[name] = float(err[sel].mean())
    return out


class DepthEstimator:
    """A transformers depth model (Depth Anything, DPT, ZoeDepth, ...) returning inverse depth at image size."""

    def __init__(self, model: Any, processor: Any, device: str | None = None):
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.processor = processor
        cfg = model.config
        self.metric = (getattr(cfg, "depth_estimation_type", "relative") == "metric"
                       or getattr(cfg, "model_type", "") in METRIC_DEPTH_MODELS)

    @classmethod
    def from_folder(cls, folder: Path, device: str | None = None) -> "DepthEstimator":
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        model = load_pretrained(AutoModelForDepthEstimation, folder, "depth estimator")
        return cls(model, load_pretrained(AutoImageProcessor, folder, "depth image processor"), device)

    def predict_inverse(self, image: np.ndarray) -> np.ndarray:
        """H×W inverse depth (larger = nearer), up to scale and shift, for an H×W×3 image."""
        import torch

        pil = as_pil(image)
        h, w = pil.height, pil.width
        with torch.inference_mode():
            inputs = self.processor(images=pil, return_tensors="pt")
            out = self.model(pixel_values=inputs["pixel_values"].to(self.device))
            pred = self._to_size(out, h, w)
        depth = pred.cpu().numpy().astype(np.float64)
        if self.metric:
            depth = 1.0 / np.maximum(depth, 1e-6)
        if not np.isfinite(depth).all():
            raise ModelError("the depth estimator returned non-finite values")
        return depth

    def _to_size(self, out: Any, h: int, w: int) -> Any:
        """The processor's own post-processing when it has one (it knows its padding), else bicubic resize."""
        import torch

        post = getattr(self.processor, "post_process_depth_estimation", None)
        if post is not None:
            try:
                return post(out, target_sizes=[(h, w)])[0]["predicted_depth"].float()
            except (TypeError, ValueError, KeyError):
                pass
        pred = out.predicted_depth
        if pred.ndim == 2:
            pred = pred[None]
        return torch.nn.functional.interpolate(pred[:, None].float(), size=(h, w), mode="bicubic",
                                               align_corners=False)[0, 0]
