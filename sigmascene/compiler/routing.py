"""The two routing maps and the visible-surface depth, composited from per-subject layers.

IR_asc keeps, per pixel, the subject with the smallest depth (ties: the later one in far->near order, i.e. the
one pasted last when pasting in ascending index order, as in the paper); IR_desc keeps the largest depth (ties:
the earlier one). Flat placements have one depth (or their depth map's); 3D placements bring per-pixel depth
from the renderer. Subjects without metric depth use the depth the ordering gave them, so they behave like
flat cards at that distance. Work is done inside each layer's bounding box only: most subjects are small.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..core.masks import mask_box

FAR_AWAY = np.float32(1e30)  # depth of a subject with no depth information: behind everything


@dataclass
class Layer:
    intensity: int
    near_mask: np.ndarray  # H x W bool: where this subject competes for IR_asc
    far_mask: np.ndarray  # H x W bool: where it competes for IR_desc
    near_depth: np.ndarray | float
    far_depth: np.ndarray | float
    metric: np.ndarray | bool  # where near_depth is real geometry (feeds I_T); False for ordering-only depth
    known_box: bool = False  # `box` was given: a (rows, cols) box holding every pixel of both masks, or None
    box: tuple[slice, slice] | None = None

    def bbox(self) -> tuple[slice, slice] | None:
        if self.known_box:
            return self.box
        box = mask_box(self.near_mask | self.far_mask)
        return None if box is None else (slice(box[1], box[3]), slice(box[0], box[2]))


def _crop(v: np.ndarray | float | bool, sl: tuple[slice, slice]):
    return v[sl] if isinstance(v, np.ndarray) else v


_SCRATCH = threading.local()


def _scratch(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The two running-best depth buffers, +inf and -inf, as views into this thread's buffers, which grow to the
    largest size asked for and are kept: they never leave composite, and filling pages the process already has is
    a fraction of what faulting in 8 fresh megabytes costs (most of a whole-canvas composite in the editor's
    server, which also composites windows of every size in between)."""
    bufs = getattr(_SCRATCH, "bufs", None)
    if bufs is None or bufs[0].shape[0] < height or bufs[0].shape[1] < width:
        h, w = max(height, 0 if bufs is None else bufs[0].shape[0]), max(width, 0 if bufs is None else bufs[0].shape[1])
        bufs = (np.empty((h, w), np.float32), np.empty((h, w), np.float32))
        _SCRATCH.bufs = bufs
    near, far = bufs[0][:height, :width], bufs[1][:height, :width]
    near.fill(np.inf)
    far.fill(-np.inf)
    return near, far


def composite(layers: list[Layer], height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(IR_asc, IR_desc, visible depth in metres or 0) for layers given far -> near."""
    ir_asc = np.zeros((height, width), np.uint8)
    ir_desc = np.zeros((height, width), np.uint8)
    visible = np.zeros((height, width), np.float32)
    best_near, best_far = _scratch(height, width)
    boxes = [layer.bbox() for layer in layers]

    for layer, sl in zip(layers, boxes):
        if sl is None:
            continue
        z = np.broadcast_to(np.asarray(_crop(layer.near_depth, sl), np.float32), best_near[sl].shape)
        win = layer.near_mask[sl] & (z <= best_near[sl])
        np.copyto(best_near[sl], z, where=win)  # masked copies in place: no gather and scatter of the pixels
        np.copyto(ir_asc[sl], layer.intensity, where=win)
        geo = np.broadcast_to(np.asarray(_crop(layer.metric, sl), bool), win.shape)
        np.copyto(visible[sl], np.where(geo, z, np.float32(0.0)), where=win)

    for layer, sl in zip(reversed(layers), reversed(boxes)):
        if sl is None:
            continue
        z = np.broadcast_to(np.asarray(_crop(layer.far_depth, sl), np.float32), best_far[sl].shape)
        win = layer.far_mask[sl] & (z >= best_far[sl])
        np.copyto(best_far[sl], z, where=win)
        np.copyto(ir_desc[sl], layer.intensity, where=win)
    return ir_asc, ir_desc, visible
