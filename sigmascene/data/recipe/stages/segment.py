"""Grounded segmentation: a zero-shot detector (Grounding DINO or OWLv2) finds each caption, SAM turns the box
into a mask, and detections are matched one-to-one to subjects (Hungarian, on score).

Three counted filters live here: a subject whose best box scores under `box_threshold` is "not found"; a mask
outside [min_area, max_area] of the image is rejected; two masks sharing more than `max_overlap` of the smaller
are rejected. Smaller overlaps are split (shared pixels go to the smaller mask, the likelier occluder), so the
stored masks are disjoint visible parts as the dataset format wants.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..store import Outcome, png_bytes
from .base import Stage, Work

if TYPE_CHECKING:
    from ..config import SegmentStage as SegmentSection


def match(n_subjects: int, labels: list[int], scores: list[float], threshold: float) -> dict[int, int]:
    """subject -> detection, one-to-one, maximising total score among detections at or above `threshold`."""
    from scipy.optimize import linear_sum_assignment

    if not labels:
        return {}
    gain = np.zeros((n_subjects, len(labels)))
    for k, (lab, sc) in enumerate(zip(labels, scores)):
        if 0 <= lab < n_subjects and sc >= threshold:
            gain[lab, k] = sc
    rows, cols = linear_sum_assignment(-gain)
    return {int(r): int(c) for r, c in zip(rows, cols) if gain[r, c] > 0}


class GroundedSegmenter:
    """A zero-shot detector (optional) + SAM from local transformers folders: `detect` finds captions in an
    image, `segment` turns boxes into masks. The build's segment stage and `render`'s cut-outs of references
    (rendering/cutout_models.py) both use it, so one subject is segmented the same way everywhere."""

    def __init__(self, segmenter: Path | str, detector: Path | str | None, device: Any, dtype: Any):
        from transformers import AutoModel, AutoModelForZeroShotObjectDetection, AutoProcessor

        self.dev, self.dtype = device, dtype
        self.m_det_proc: Any = None
        self.m_det: Any = None
        self.grounding = False
        if detector is not None:
            with open(Path(detector) / "config.json", encoding="utf-8") as fh:
                self.grounding = "grounding" in str(json.load(fh).get("model_type", ""))
            self.m_det_proc = AutoProcessor.from_pretrained(str(detector))
            self.m_det = AutoModelForZeroShotObjectDetection.from_pretrained(str(detector), dtype=dtype)
            self.m_det = self.m_det.to(device).eval()
        self.m_sam_proc = AutoProcessor.from_pretrained(str(segmenter))
        self.m_sam = AutoModel.from_pretrained(str(segmenter), dtype=dtype).to(device).eval()

    def _inputs(self, proc_out):
        import torch

        return {k: (v.to(self.dev, self.dtype) if torch.is_floating_point(v) else v.to(self.dev))
                for k, v in proc_out.items() if hasattr(v, "to")}

    def detect(self, image, captions: list[str]) -> tuple[list[list[float]], list[int], list[float]]:
        """Boxes (pixels, clipped), the caption index each box belongs to, and its score."""
        import torch

        w, h = image.size
        if self.grounding:
            return self._detect_grounding(image, captions)
        # OWLv2 pads to a square; its post-processing maps boxes back to the image
        inp = self.m_det_proc(text=[captions], images=image, return_tensors="pt", padding="max_length",
                              truncation=True)
        with torch.no_grad():
            out = self.m_det(**self._inputs(inp))
        res = self.m_det_proc.post_process_grounded_object_detection(
            out, threshold=0.0, target_sizes=[(h, w)], text_labels=[captions])[0]
        return self._keep(res["boxes"].float().tolist(), res["labels"].tolist(), res["scores"].float().tolist(), w, h)

    def _detect_grounding(self, image, captions: list[str]) -> tuple[list[list[float]], list[int], list[float]]:
        """Grounding DINO scores every query box against every text token; a box belongs to the caption whose
        tokens it matches best (max over the caption's token span), scored by that match."""
        import torch

        w, h = image.size
        parts = [c.lower().strip(". ") for c in captions]
        text = ". ".join(parts) + "."
        spans, pos = [], 0
        for p in parts:
            spans.append((pos, pos + len(p)))
            pos += len(p) + 2
        inp = self.m_det_proc(images=image, text=text, return_tensors="pt", return_offsets_mapping=True)
        offsets = inp.pop("offset_mapping")[0].tolist()
        with torch.no_grad():
            out = self.m_det(**self._inputs(inp))
        probs = out.logits[0].float().sigmoid()  # (queries, text tokens)
        token_of = [[k for k, (a, b) in enumerate(offsets) if b > a and lo <= a < hi] for lo, hi in spans]
        per_caption = torch.stack([probs[:, ids].max(dim=1).values if ids else torch.zeros(probs.shape[0])
                                   for ids in token_of], dim=1)  # (queries, captions)
        scores, labels = per_caption.max(dim=1)
        cx, cy, bw, bh = out.pred_boxes[0].float().unbind(-1)
        xyxy = torch.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], dim=-1)
        return self._keep(xyxy.tolist(), labels.tolist(), scores.tolist(), w, h)

    def _keep(self, raw_boxes, labels, raw_scores, w: int, h: int):
        boxes, keep_labels, scores = [], [], []
        for box, lab, sc in zip(raw_boxes, labels, raw_scores):
            x0, y0, x1, y1 = max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3])
            if x1 - x0 >= 1 and y1 - y0 >= 1:
                boxes.append([x0, y0, x1, y1])
                keep_labels.append(int(lab))
                scores.append(float(sc))
        return boxes, keep_labels, scores

    def segment(self, image, boxes: list[list[float]]) -> list[np.ndarray]:
        import torch

        inp = self.m_sam_proc(images=image, input_boxes=[boxes], return_tensors="pt")
        with torch.no_grad():
            out = self.m_sam(**self._inputs(inp), multimask_output=False)
        if "reshaped_input_sizes" in inp:  # SAM / SAM-HQ: masks come back at the padded input's scale
            masks = self.m_sam_proc.image_processor.post_process_masks(
                out.pred_masks.float().cpu(), inp["original_sizes"], inp["reshaped_input_sizes"])[0]
        else:  # SAM 2's processor undoes its own resize
            masks = self.m_sam_proc.post_process_masks(out.pred_masks.float().cpu(), inp["original_sizes"])[0]
        return [m[0].numpy().astype(bool) for m in masks]


class SegmentStage(Stage):
    name = "segment"
    section: SegmentSection  # the [stages.segment] table

    def load(self) -> None:
        from ....model.loading import quiet_libraries
        from ..models import find

        quiet_libraries()
        dev, dtype = self.device_dtype()
        self.m_seg = GroundedSegmenter(find(self.plan.refs, "segment", "segmenter").path,
                                       find(self.plan.refs, "segment", "detector").path, dev, dtype)

    @property
    def grounding(self) -> bool:
        return self.m_seg.grounding

    def detect(self, image, captions: list[str]) -> tuple[list[list[float]], list[int], list[float]]:
        return self.m_seg.detect(image, captions)

    def segment(self, image, boxes: list[list[float]]) -> list[np.ndarray]:
        return self.m_seg.segment(image, boxes)

    def process_image(self, image, subjects: list[dict]) -> Outcome:
        s = self.section
        boxes, labels, scores = self.detect(image, [x["caption"] for x in subjects])
        pairs = match(len(subjects), labels, scores, s.box_threshold)
        for j, sub in enumerate(subjects):
            if j not in pairs:
                best = max((sc for lab, sc in zip(labels, scores) if lab == j), default=0.0)
                return Outcome.reject("segment.not_found", f"subject '{sub['name']}' ({sub['caption']}) not found: "
                                                           f"best score {best:.3f} < box_threshold {s.box_threshold:g}")
        masks = self.segment(image, [boxes[pairs[j]] for j in range(len(subjects))])
        area = image.size[0] * image.size[1]
        for sub, m in zip(subjects, masks):
            frac = float(m.sum()) / area
            if frac == 0 or not s.min_area <= frac <= s.max_area:  # empty: nothing to cut out, even at min_area 0
                return Outcome.reject("segment.mask_area", f"mask of '{sub['name']}' covers {frac:.2%} of the image "
                                                           f"(allowed {s.min_area:.2%}..{s.max_area:.2%})")
        for a in range(len(masks)):
            for b in range(a + 1, len(masks)):
                both = float((masks[a] & masks[b]).sum())
                frac = both / max(1.0, min(masks[a].sum(), masks[b].sum()))
                if frac > s.max_overlap:
                    return Outcome.reject("segment.overlap", f"masks of '{subjects[a]['name']}' and "
                                                             f"'{subjects[b]['name']}' overlap by {frac:.0%} "
                                                             f"(max_overlap {s.max_overlap:.0%})")
                if both:
                    small, big = (a, b) if masks[a].sum() <= masks[b].sum() else (b, a)
                    masks[big] = masks[big] & ~masks[small]
        if any(not m.any() for m in masks):
            return Outcome.reject("segment.overlap", "a mask is empty once overlaps are split")
        out = Outcome(data={"detections": {}})
        for j, (sub, m) in enumerate(zip(subjects, masks)):
            k = pairs[j]
            out.data["detections"][sub["name"]] = {"box": [round(v, 3) for v in boxes[k]],
                                                   "score": round(scores[k], 6)}
            out.files[f"{sub['name']}_mask.png"] = png_bytes(m.astype(np.uint8) * 255)
        return out

    def process(self, works: list[Work]) -> list[Outcome]:
        return [self.process_image(w.inputs["image"].image("image.png"), w.scene["subjects"]) for w in works]
