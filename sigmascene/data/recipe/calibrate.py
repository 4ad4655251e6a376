"""`data build --calibrate N`: run the configured segmentation and depth models on N synthetic-world scenes,
whose masks and depth are exact, and measure them — mask IoU per subject (a subject the detector misses counts
as 0) and depth AbsRel — so a user can choose models by measurement rather than by reputation.

The scenes come from the toy world (`data synth`, rendered with pyrender), at the build's canvas size; the
models see only the rendered image and the subjects' captions, exactly as in a build.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import numpy as np

from ..io import load_dataset, load_depth, load_mask, resolve, write_bytes_atomic
from .config import BuildConfig
from .plan import Plan, load_stage, make_stage
from .stages.depth import DepthStage
from .stages.segment import SegmentStage, match


def abs_rel(est: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """(AbsRel, AbsRel after scaling the estimate to the truth's median) over pixels both know."""
    valid = (gt > 0) & (est > 0) & np.isfinite(est)
    if not valid.any():
        return float("nan"), float("nan")
    e, g = est[valid].astype(np.float64), gt[valid].astype(np.float64)
    scaled = e * (np.median(g) / np.median(e))
    return float(np.mean(np.abs(e - g) / g)), float(np.mean(np.abs(scaled - g) / g))


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = float((a | b).sum())
    return float((a & b).sum()) / union if union else 0.0


def _written(path: str | None) -> str:
    """A mask/depth path of the synthetic world, which writes both for every scene and subject."""
    if path is None:
        raise ValueError("the synthetic world wrote no mask or depth file")
    return path


def calibrate(cfg: BuildConfig, out: str | Path, n: int) -> dict:
    from ...errors import ConfigError
    from ..synth import SynthConfig, synthesize

    if n < 1:
        raise ConfigError(f"--calibrate needs at least 1 scene, got {n}")
    out = Path(out)
    plan = Plan(cfg, out, stages=("segment", "depth"))  # checks just these models' folders
    world = out / "world"
    b = cfg.build
    synthesize(world, n, SynthConfig(seed=b.seed, size=min(b.width, b.height), min_subjects=1,
                                     max_subjects=min(10, len(b.subjects))), workers=1)
    samples = load_dataset(world)
    seg = cast(SegmentStage, make_stage("segment", plan))
    depth = cast(DepthStage, make_stage("depth", plan))
    load_stage(seg)
    load_stage(depth)
    from PIL import Image

    ious, found, errs, errs_scaled = [], 0, [], []
    for s in samples:
        with Image.open(resolve(world, s.image)) as im:
            image = im.convert("RGB")
        boxes, labels, scores = seg.detect(image, [x.caption or x.name for x in s.subjects])
        pairs = match(len(s.subjects), labels, scores, seg.section.box_threshold)
        masks = seg.segment(image, [boxes[pairs[j]] for j in sorted(pairs)]) if pairs else []
        by_subject = dict(zip(sorted(pairs), masks))
        for j, sub in enumerate(s.subjects):
            truth = load_mask(resolve(world, _written(sub.mask)))
            if j in by_subject:
                found += 1
                ious.append(mask_iou(by_subject[j], truth))
            else:
                ious.append(0.0)
        est = depth.estimate([image])[0]
        a, a_s = abs_rel(est, load_depth(resolve(world, _written(s.depth))))
        errs.append(a)
        errs_scaled.append(a_s)
    seg.close()
    depth.close()
    refs = plan.models()
    result = {
        "scenes": len(samples), "subjects": len(ious),
        "segment": {"models": refs["segment"], "mean_mask_iou": float(np.mean(ious)) if ious else 0.0,
                    "found": found / max(1, len(ious)), "box_threshold": seg.section.box_threshold},
        "depth": {"models": refs["depth"], "kind": depth.kind, "abs_rel": float(np.nanmean(errs)),
                  "abs_rel_median_scaled": float(np.nanmean(errs_scaled))},
    }
    write_bytes_atomic(out / "calibration.json", (json.dumps(result, indent=2) + "\n").encode())
    return result


def render_calibration(result: dict) -> str:
    seg, dep = result["segment"], result["depth"]
    def names(refs):
        return " + ".join(Path(r["path"]).name for r in refs)
    return "\n".join([
        f"calibration on {result['scenes']} synthetic scenes ({result['subjects']} subjects, exact truth)",
        f"  segmentation  {names(seg['models'])}: mean mask IoU {seg['mean_mask_iou']:.3f}, "
        f"found {seg['found']:.0%} of subjects (box_threshold {seg['box_threshold']:g})",
        f"  depth         {names(dep['models'])} ({dep['kind']}): AbsRel {dep['abs_rel']:.3f}, "
        f"median-scaled AbsRel {dep['abs_rel_median_scaled']:.3f}",
    ])
