"""Work one compile hands the next: the editor recompiles on every step of a drag, where one subject moves.

`compile_scene(scene, reuse=CompileReuse())` keeps, between calls on the same object:
- each flat subject's coverage (a 2D box, polygon or mask), keyed by its placement, the canvas and, for a mask,
  the file's identity (path, mtime, size) — a moved 2D box re-rasters only itself;
- the 3D pass. When the camera, the canvas, the far plane and every other 3D subject are as before, only the
  window where the changed subjects were and are is drawn again (pyrender3d.render_3d's `region`: the whole scene
  under a scissor, so depth tests and draw order are those of a full render) and pasted into the previous
  result. A window over half the canvas, or a subject reaching behind the camera, gets a full render.

Nothing here changes a value: the maps are the same bytes as a compile without reuse (tests/compiler/
test_reuse.py compares them on every example and on random edits).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..core.owned_cache import OwnedCache
from ..renderers.camera import camera_to_world
from ..renderers.pyrender3d import Z_NEAR, Item3D, Render3D, far_plane, render_3d, world_bounds
from ..scene import Camera, Scene, Subject
from ..scene.kinds.mask import Mask
from .identity import stack
from .routing import Layer, composite

FLAT_ENTRIES = 64
MARGIN = 3  # pixels around a projected bounding box: rasterisation never reaches further than one


@dataclass
class _Pass3D:
    key: tuple  # camera, canvas, far plane
    items: list[tuple[int, bytes]]  # per item: mesh identity, object matrix bytes
    bounds: list[np.ndarray]  # per item: its 8 world corners
    result: Render3D


class CompileReuse:
    """Caches for a sequence of compiles of one scene as it is edited (not shared between threads at once)."""

    def __init__(self) -> None:
        self._flat: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._pass: _Pass3D | None = None
        self._lock = threading.Lock()
        self._layers: OrderedDict[tuple, tuple[object, Any]] = OrderedDict()
        self._lineage: tuple[Render3D, Render3D, set[int]] | None = None  # previous pass, its windowed successor, ids
        self._composite: tuple[list[tuple], list, tuple[int, int], tuple[np.ndarray, ...]] | None = None
        self._extents = OwnedCache(FLAT_ENTRIES)
        self._stack: tuple[tuple, list[np.ndarray], np.ndarray] | None = None
        self.last_3d = "none"  # what the latest compile did for 3D: none | reused | window | full (benchmarks)

    # -- flat placements -------------------------------------------------------------------------------------
    def flat(self, subject: Subject, scene: Scene, compute: Callable[[Subject, Scene], np.ndarray]) -> np.ndarray:
        p = subject.placement
        key: tuple = (p.model_dump_json(), scene.canvas.width, scene.canvas.height)
        if isinstance(p, Mask):
            path = scene.resolve(p.path)
            try:
                st = path.stat()
            except OSError:
                return compute(subject, scene)  # the loader reports it with its location
            key += (str(path), st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._flat.get(key)
            if hit is not None:
                self._flat.move_to_end(key)
                return hit
        value = compute(subject, scene)
        value.setflags(write=False)
        with self._lock:
            self._flat[key] = value
            while len(self._flat) > FLAT_ENTRIES:
                self._flat.popitem(last=False)
        return value

    # -- per-mask summaries and the identity stack: the same arrays in, the same answer -------------------------
    def extent(self, mask: np.ndarray, compute: Callable[[np.ndarray], Any]) -> Any:
        """compute(mask), remembered for this very array (a flat subject's cached coverage is the same object from
        one compile to the next)."""
        return self._extents.get(mask, lambda: compute(mask))

    def stack(self, blocks: list[np.ndarray], height: int, width: int) -> np.ndarray:
        """identity.stack, unchanged while the same reference blocks come in the same order (every drag that
        does not reorder the subjects)."""
        key = (tuple(id(b) for b in blocks), height, width)
        with self._lock:
            prev = self._stack
            if prev is not None and prev[0] == key and all(a is b for a, b in zip(prev[1], blocks)):
                return prev[2]
        value = stack(blocks, height, width)
        value.setflags(write=False)
        with self._lock:
            self._stack = (key, list(blocks), value)
        return value

    # -- a 3D subject's layer: its masks and depth ranges cut from a 3D pass this object returned -------------
    def layer(self, key: tuple, ident: int, r3: Render3D, compute: Callable[[], Any]) -> Any:
        """compute()'s value while `key` (the subject, its id in the pass, the camera) is unchanged and the 3D pass
        is the same object (a 2D drag), or is the previous pass redrawn in a window where id `ident` was not and is
        not (a 3D drag elsewhere: its masks and depths are the same numbers, outside the window)."""
        with self._lock:
            hit = self._layers.get(key)
            if hit is not None and (hit[0] is r3 or (self._lineage is not None and hit[0] is self._lineage[0]
                                                     and r3 is self._lineage[1] and ident not in self._lineage[2])):
                self._layers[key] = (r3, hit[1])
                self._layers.move_to_end(key)
                return hit[1]
        value = compute()
        with self._lock:
            self._layers[key] = (r3, value)  # holding the pass keeps its id from being reused
            while len(self._layers) > FLAT_ENTRIES:
                self._layers.popitem(last=False)
        return value

    # -- the 3D pass -----------------------------------------------------------------------------------------
    def render_3d(self, items: list[Item3D], cam: Camera, width: int, height: int) -> Render3D:
        if not items:
            self.last_3d = "none"
            return render_3d(items, cam, width, height)
        key = (cam.model_dump_json(), width, height, far_plane(items, cam))
        ids = [(id(it.mesh), np.asarray(it.matrix, np.float64).tobytes()) for it in items]
        bounds = [world_bounds(it) for it in items]
        prev = self._pass
        region = None
        if prev is not None and prev.key == key and len(prev.items) == len(ids):
            changed = [k for k, (a, b) in enumerate(zip(prev.items, ids)) if a != b]
            if not changed:
                self.last_3d = "reused"
                return prev.result
            region = _window([prev.bounds[k] for k in changed] + [bounds[k] for k in changed], cam, width, height)
        self._lineage = None
        if region is None:
            result = render_3d(items, cam, width, height)
            self.last_3d = "full"
        else:
            assert prev is not None
            part = render_3d(items, cam, width, height, region=region)
            x0, y0, x1, y1 = region
            touched: set[int] = set()
            for arr in (prev.result.near_id[y0:y1, x0:x1], prev.result.far_id[y0:y1, x0:x1], part.near_id,
                        part.far_id):
                touched |= {int(v) for v in np.unique(arr)}
            result = _paste(prev.result, part, region)  # after `touched`: the paste writes over the old window
            self._lineage = (prev.result, result, touched)
            self.last_3d = "window"
        for arr in (result.near_id, result.near_depth, result.far_id, result.far_depth):
            arr.setflags(write=False)
        self._pass = _Pass3D(key, ids, bounds, result)
        return result


    # -- compositing -----------------------------------------------------------------------------------------
    def composite(self, layers: list[Layer], height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """routing.composite's maps, recomposited only where a layer changed. Layers are compared by identity
        (the arrays this object handed out, or plain numbers); with the same intensities in the same order and
        some layers changed, only the union of their old and new boxes can differ — each pixel depends on the
        layers at that pixel alone — so that window is composited from every layer cropped to it."""
        keys = [_layer_key(lay) for lay in layers]
        boxes = [lay.bbox() for lay in layers]
        prev = self._composite
        window = None
        if prev is not None and prev[2] == (height, width) and len(prev[0]) == len(keys) and \
                all(a[0] == b[0] for a, b in zip(prev[0], keys)):
            changed = [k for k, (a, b) in enumerate(zip(prev[0], keys)) if not _same_key(a, b)]
            if not changed:
                self._composite = (keys, boxes, (height, width), prev[3])
                return prev[3]  # type: ignore[return-value]  # the cached maps, stored as the tuple returned
            window = _union([prev[1][k] for k in changed] + [boxes[k] for k in changed])
        if window is None or window[0].stop - window[0].start > 0.7 * height and \
                window[1].stop - window[1].start > 0.7 * width:
            out = composite(layers, height, width)
        else:
            assert prev is not None
            part = composite([_crop_layer(lay, window) for lay in layers],
                             window[0].stop - window[0].start, window[1].stop - window[1].start)
            # the routing maps are written in place (compile_scene stacks them into I_C and keeps neither); the
            # visible depth is copied, since a compiled scene hands it out as its `depth`
            asc, desc, visible = prev[3]
            asc.setflags(write=True)
            desc.setflags(write=True)
            out = (asc, desc, visible.copy())
            for full, win in zip(out, part):
                full[window] = win
        for arr in out:
            arr.setflags(write=False)
        self._composite = (keys, boxes, (height, width), out)
        return out


def _layer_key(lay: Layer) -> tuple:
    return (lay.intensity,) + tuple(v if isinstance(v, np.ndarray) else ("value", v if not isinstance(v, np.generic)
                                                                           else v.item())
                                    for v in (lay.near_mask, lay.far_mask, lay.near_depth, lay.far_depth, lay.metric))


def _same_key(a: tuple, b: tuple) -> bool:
    return all(x is y if isinstance(x, np.ndarray) or isinstance(y, np.ndarray) else x == y for x, y in zip(a, b))


def _union(boxes: list[tuple[slice, slice] | None]) -> tuple[slice, slice] | None:
    real = [b for b in boxes if b is not None]
    if not real:
        return (slice(0, 0), slice(0, 0))
    return (slice(min(b[0].start for b in real), max(b[0].stop for b in real)),
            slice(min(b[1].start for b in real), max(b[1].stop for b in real)))


def _crop_layer(lay: Layer, window: tuple[slice, slice]) -> Layer:
    def crop(v):
        return v[window] if isinstance(v, np.ndarray) else v

    return Layer(intensity=lay.intensity, near_mask=crop(lay.near_mask), far_mask=crop(lay.far_mask),
                 near_depth=crop(lay.near_depth), far_depth=crop(lay.far_depth), metric=crop(lay.metric))


def _window(corner_sets: list[np.ndarray], cam: Camera, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Pixel window (x0, y0, x1, y1) holding every projected corner set, x rounded out to multiples of 4 (whole
    words per row on readback); None when a corner is not in front of the camera or the window is most of it."""
    w2c = np.linalg.inv(camera_to_world(cam))
    pts = np.concatenate(corner_sets)
    cam_pts = pts @ w2c[:3, :3].T + w2c[:3, 3]
    depth = -cam_pts[:, 2]
    if not np.all(depth > 2 * Z_NEAR):
        return None
    f = 1.0 / np.tan(np.radians(cam.fov) / 2.0)
    aspect = width / height
    u = (cam_pts[:, 0] * f / aspect / depth + 1.0) * 0.5 * width
    v = (1.0 - cam_pts[:, 1] * f / depth) * 0.5 * height
    if not (np.isfinite(u).all() and np.isfinite(v).all()):
        return None
    x0 = max(0, int(np.floor(u.min())) - MARGIN) // 4 * 4
    x1 = min(width, -(-(int(np.ceil(u.max())) + MARGIN) // 4) * 4)
    y0 = max(0, int(np.floor(v.min())) - MARGIN)
    y1 = min(height, int(np.ceil(v.max())) + MARGIN)
    if x1 <= x0 or y1 <= y0:
        x0, y0, x1, y1 = 0, 0, 4, 1  # entirely off the canvas: nothing to draw, one cheap row read
    if (x1 - x0) * (y1 - y0) > 0.5 * width * height:
        return None
    return x0, y0, x1, y1


def _paste(base: Render3D, part: Render3D, region: tuple[int, int, int, int]) -> Render3D:
    """The window drawn again, written into the previous pass's own arrays (10 MB not copied per step), returned
    as a new record: the layer cache tells passes apart by the record. Nothing outside this object reads the old
    values: a subject whose id was not in the window, before or after, has no pixel there, so the depths its cached
    layer shares with the pass are unchanged under its masks; every subject that had or has one is recomputed."""
    x0, y0, x1, y1 = region
    for full, win in ((base.near_id, part.near_id), (base.near_depth, part.near_depth),
                      (base.far_id, part.far_id), (base.far_depth, part.far_depth)):
        full.setflags(write=True)
        full[y0:y1, x0:x1] = win
        full.setflags(write=False)
    return Render3D(base.near_id, base.near_depth, base.far_id, base.far_depth)

