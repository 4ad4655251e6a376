"""The layout image: every subject's cut-out pasted at its place on a canvas-sized picture, what a training-free
method (collage on stock FLUX.1 Kontext) or ContextGen is shown instead of SIGMA's control maps.

Each cut-out is fitted, aspect kept and centred, into the bounding box of its subject's silhouette (the compiler's
`coverage`: a 2D box, the polygon or mask, the projected silhouette of a 3D box or mesh) and clipped to that
silhouette. Subjects are painted far -> near in the compiler's order; then, wherever the routing map IR_asc names
a subject whose cut-out covers the pixel, that subject is painted on top. So a nearer subject covers a farther one
exactly where the routing maps say it is nearer (per pixel, for interpenetrating 3D placements too), and where the
nearest subject's cut-out is transparent the next one in paint order shows. The background is the scene's
`background` photo fitted to the canvas, else a flat grey of 128 — the zero of the VAE's [-1, 1] pixel range,
which is also what ContextGen leaves outside its masks.

Mattes are binary (see cutouts.py), so `owner` says exactly which subject each pixel shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..core.masks import mask_box
from ..core.vocab import routing_intensity
from .cutouts import MATTE_THRESHOLD, Cutout, Segmenter, scene_cutouts

if TYPE_CHECKING:
    from PIL import Image

    from .compiled import CompiledScene

NEUTRAL_FILL = (128, 128, 128)  # the layout's background without a `background` photo


@dataclass
class LayoutImage:
    """The layout image of a compiled scene and what it is made of."""

    rgb: np.ndarray  # H x W x 3 uint8: what the model sees
    owner: np.ndarray  # H x W uint8: routing intensity of the subject each pixel shows (0 = background)
    order: list[str]  # subject names far -> near (the compiled scene's order); order[k-1] has intensity 10k
    boxes: dict[str, tuple[int, int, int, int] | None]  # (x0, y0, x1, y1) canvas px of each pasted picture
    regions: dict[str, tuple[int, int, int, int] | None]  # bounding box of each subject's silhouette
    sources: dict[str, str]  # where each cut-out came from: matte | alpha | segmentation | rectangle
    warnings: list[str] = field(default_factory=list)

    @property
    def alpha(self) -> np.ndarray:
        """H x W bool: the pixels that show a subject."""
        return self.owner > 0

    @property
    def rgba(self) -> np.ndarray:
        """H x W x 4 uint8: the layout with alpha 255 on subject pixels (ContextGen's layout input)."""
        return np.dstack([self.rgb, np.where(self.alpha, 255, 0).astype(np.uint8)])

    def subject_mask(self, name: str) -> np.ndarray:
        """H x W bool: the pixels that show subject `name`."""
        return self.owner == routing_intensity(self.order.index(name) + 1)

    @property
    def pil(self) -> "Image.Image":
        from PIL import Image

        return Image.fromarray(self.rgb, "RGB")

    @property
    def rgba_pil(self) -> "Image.Image":
        from PIL import Image

        return Image.fromarray(self.rgba, "RGBA")


def fit_cutout(cutout: Cutout, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray,
                                                                          tuple[int, int, int, int]]:
    """(rgb h x w x 3, subject mask h x w, placed box) of a cut-out resized (Lanczos, aspect kept, alpha
    premultiplied by Pillow) to fit inside `box` and centred in it."""
    from PIL import Image

    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    h0, w0 = cutout.rgba.shape[:2]
    scale = min(bw / w0, bh / h0)
    nw, nh = max(1, min(bw, round(w0 * scale))), max(1, min(bh, round(h0 * scale)))
    pic = cutout.rgba
    if (nw, nh) != (w0, h0):
        pic = np.asarray(Image.fromarray(cutout.rgba, "RGBA").resize((nw, nh), Image.Resampling.LANCZOS),
                         dtype=np.uint8)
    px, py = x0 + (bw - nw) // 2, y0 + (bh - nh) // 2
    return pic[..., :3], pic[..., 3] >= MATTE_THRESHOLD, (px, py, px + nw, py + nh)


def build_layout_image(compiled: "CompiledScene", cutouts: dict[str, Cutout], *,
                       fill: tuple[int, int, int] = NEUTRAL_FILL) -> LayoutImage:
    """The layout image of `compiled` from its subjects' cut-outs (see the module docstring for the rule)."""
    scene = compiled.scene
    height, width = scene.canvas.height, scene.canvas.width
    if compiled.background is not None:
        rgb = np.array(compiled.background, dtype=np.uint8)
    else:
        rgb = np.empty((height, width, 3), np.uint8)
        rgb[:] = fill
    owner = np.zeros((height, width), np.uint8)
    ir_asc = compiled.ir_asc
    boxes: dict[str, tuple[int, int, int, int] | None] = {}
    regions: dict[str, tuple[int, int, int, int] | None] = {}
    layers = []
    for k, name in enumerate(compiled.order):
        cov = compiled.coverage[name]
        regions[name] = region = mask_box(cov)
        if region is None:
            boxes[name] = None
            continue
        pic, mask, placed = fit_cutout(cutouts[name], region)
        boxes[name] = placed
        sl = (slice(placed[1], placed[3]), slice(placed[0], placed[2]))
        mask = mask & cov[sl]
        value = routing_intensity(k + 1)
        rgb[sl][mask] = pic[mask]  # far -> near: a nearer subject is painted later
        owner[sl][mask] = value
        layers.append((sl, pic, mask, value))
    for sl, pic, mask, value in layers:  # the routing map's nearest subject wins wherever its cut-out is
        top = mask & (ir_asc[sl] == value)
        rgb[sl][top] = pic[top]
        owner[sl][top] = value
    return LayoutImage(rgb=rgb, owner=owner, order=list(compiled.order), boxes=boxes, regions=regions,
                       sources={n: cutouts[n].source for n in compiled.order})


def layout_image(compiled: "CompiledScene", *, segmenter: Segmenter | None = None,
                 cutouts: dict[str, Cutout] | None = None) -> LayoutImage:
    """The layout image of a compiled scene: cut-outs made from the scene's files (matte, alpha, `segmenter`,
    rectangle; see cutouts.py) unless given, then pasted by `build_layout_image`. Its warnings say which
    subjects are pasted as whole rectangles and how to do better."""
    warnings: list[str] = []
    if cutouts is None:
        cutouts, warnings = scene_cutouts(compiled.scene, segmenter=segmenter)
    out = build_layout_image(compiled, cutouts)
    out.warnings = warnings
    return out
