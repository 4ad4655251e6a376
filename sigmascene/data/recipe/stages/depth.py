"""Depth: a transformers depth-estimation model -> z-depth in metres, as the dataset format stores it.

Metric models (ZoeDepth, Depth Anything metric heads) are used as they are. Relative models (Depth Anything V2,
DPT) give an affine-invariant disparity d; the documented scale rule turns it into metres:
z = median_m * median(d) / d — the scene's median depth is `median_m` and nearer things have larger d. Pixels
with d <= 0, and depths beyond `max_m`, become 0 (unknown).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..store import Outcome, npy_bytes
from .base import Stage, Work

if TYPE_CHECKING:
    from ..config import DepthStage as DepthSection

METRIC_TYPES = ("zoedepth", "depth_pro")


def disparity_to_depth(d: np.ndarray, median_m: float, max_m: float) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64)
    valid = np.isfinite(d) & (d > 1e-6 * max(float(np.nanmax(d)), 1e-12))
    z = np.zeros(d.shape, dtype=np.float64)
    if valid.any():
        z[valid] = median_m * float(np.median(d[valid])) / d[valid]
    z[(z > max_m) | ~np.isfinite(z)] = 0.0
    return z.astype(np.float32)


def metric_depth(d: np.ndarray, max_m: float) -> np.ndarray:
    z = np.where(np.isfinite(d) & (d > 0) & (d <= max_m), d, 0.0)
    return z.astype(np.float32)


class DepthStage(Stage):
    name = "depth"
    section: DepthSection  # the [stages.depth] table

    def load(self) -> None:
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        from ....model.loading import quiet_libraries
        from ..models import find

        quiet_libraries()
        self.dev, self.dtype = self.device_dtype()
        ref = find(self.plan.refs, "depth", "depth")
        self.m_proc = AutoImageProcessor.from_pretrained(str(ref.path))
        self.m_model = AutoModelForDepthEstimation.from_pretrained(str(ref.path), dtype=self.dtype).to(self.dev).eval()
        kind = self.section.kind
        if kind == "auto":
            kind = getattr(self.m_model.config, "depth_estimation_type", None) or (
                "metric" if ref.kind in METRIC_TYPES else "relative")
        self.kind = kind

    def estimate(self, images: list) -> list[np.ndarray]:
        import torch

        inp = self.m_proc(images=images, return_tensors="pt")
        inp = {k: v.to(self.dev, self.dtype) if torch.is_floating_point(v) else v.to(self.dev) for k, v in inp.items()}
        with torch.no_grad():
            out = self.m_model(**inp)
        out.predicted_depth = out.predicted_depth.float()
        sizes = [(im.size[1], im.size[0]) for im in images]
        preds = self.m_proc.post_process_depth_estimation(out, target_sizes=sizes)
        s = self.section
        raw = [p["predicted_depth"].cpu().numpy() for p in preds]
        if self.kind == "metric":
            return [metric_depth(d, s.max_m) for d in raw]
        return [disparity_to_depth(d, s.median_m, s.max_m) for d in raw]

    def process(self, works: list[Work]) -> list[Outcome]:
        depths = self.estimate([w.inputs["image"].image("image.png") for w in works])
        return [Outcome(data={"kind": self.kind}, files={"depth.npy": npy_bytes(d)}) for d in depths]
