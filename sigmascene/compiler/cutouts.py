"""Cut-outs: each subject's reference with the subject separated from its own background, for the layout image.

A method that pastes references onto a canvas (collage, ContextGen) needs to know which reference pixels are the
subject. The sources, in the order they are tried:

1. a `matte "file"` statement: the user said which pixels, so it wins (white / opaque = subject);
2. the reference's own alpha channel (a PNG cut out by its author);
3. a segmentation model (a `Segmenter`: the data recipe's detector + SAM, wired in by rendering/cutout_models.py);
4. the whole reference rectangle, with a warning that says how to do better.

Every matte is binary (subject where the value is >= 128): the layout is painted with hard edges, so which
subject shows at a pixel is a yes/no fact that tests can check against the routing maps. A cut-out is cropped to
its subject's bounding box, so transparent margins never shrink the subject when it is fitted into its region.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from ..core.masks import mask_box
from ..errors import AssetError, SourceLoc
from ..scene.prompts import subject_phrase
from .assets import cached, existing_file, load_image

if TYPE_CHECKING:
    from PIL import Image

    from ..scene import Scene, Subject

CutoutSource = Literal["matte", "alpha", "segmentation", "rectangle"]
MATTE_THRESHOLD = 128  # a matte or alpha value at or above this is the subject
BETTER_CUTOUT = ("give it a `matte \"mattes/NAME.png\"` (white = subject), use a PNG reference with transparency, or "
                 "render with --segmenter SAM_DIR [--detector DIR] to cut it out with a segmentation model")


class Segmenter(Protocol):
    """Finds the subject in a reference photo: an H x W bool mask of `image`, or None when it finds nothing.
    `id` names the model(s) (folder + config hash), so cut-outs are cached per model."""

    id: str

    def __call__(self, image: "Image.Image", caption: str) -> np.ndarray | None: ...


@dataclass(frozen=True)
class Cutout:
    """One subject's cut-out: the reference cropped to its subject, with a binary alpha."""

    rgba: np.ndarray  # h x w x 4 uint8; alpha is 255 on the subject, 0 elsewhere
    source: CutoutSource
    ref_size: tuple[int, int]  # (width, height) of the reference file
    crop: tuple[int, int, int, int]  # (x0, y0, x1, y1) of `rgba` inside the reference

    @property
    def alpha(self) -> np.ndarray:
        """h x w bool: the subject's pixels."""
        return self.rgba[..., 3] >= MATTE_THRESHOLD


def load_rgba(path: Path, loc: SourceLoc | None, what: str = "reference") -> np.ndarray:
    """H x W x 4 uint8 of an image file as the asset loader reads it (grey and RGB get alpha 255)."""

    def load() -> np.ndarray:
        arr = np.asarray(load_image(path, loc, what).convert("RGBA"), dtype=np.uint8)
        arr.setflags(write=False)
        return arr

    return cached("rgba", existing_file(path, loc, what), (), load)


def load_matte(path: Path, loc: SourceLoc | None, ref_size: tuple[int, int]) -> np.ndarray:
    """H x W bool of a matte file that must have the reference's size: its alpha when it has transparency, else
    its grey level, >= 128 = subject. A matte of another size, an unreadable one, or one that selects no pixel is
    one located AssetError."""

    def load() -> np.ndarray:
        im = load_image(path, loc, "matte")
        if im.size != ref_size:
            raise AssetError(f"matte is {im.size[0]}x{im.size[1]} px but its reference is {ref_size[0]}x"
                             f"{ref_size[1]} px: {path}", loc,
                             "a matte marks the reference's own pixels, so it must have exactly the reference's size")
        arr = np.asarray(im)
        if im.mode in ("RGBA", "LA") and arr[..., -1].min() < 255:
            values = arr[..., -1]
        else:
            values = np.asarray(im.convert("L"))
        m = np.ascontiguousarray(values >= MATTE_THRESHOLD)
        if not m.any():
            raise AssetError(f"matte selects no pixel (every value is under {MATTE_THRESHOLD}): {path}", loc,
                             "white (or opaque) marks the subject")
        m.setflags(write=False)
        return m

    return cached("matte", existing_file(path, loc, "matte"), tuple(ref_size), load)


def _crop(rgba: np.ndarray, mask: np.ndarray, source: CutoutSource) -> Cutout:
    box = mask_box(mask)
    assert box is not None  # a cut-out is made of a mask with pixels (its callers check)
    x0, y0, x1, y1 = box
    out = np.array(rgba[y0:y1, x0:x1], dtype=np.uint8)
    out[..., 3] = np.where(mask[y0:y1, x0:x1], 255, 0)
    out.setflags(write=False)
    return Cutout(out, source, (rgba.shape[1], rgba.shape[0]), (x0, y0, x1, y1))


def _segmented(path: Path, rgba: np.ndarray, caption: str, segmenter: Segmenter) -> np.ndarray | None:
    """The segmenter's mask of a reference, cached per (file, caption, model)."""
    from PIL import Image

    def run() -> np.ndarray | None:
        m = segmenter(Image.fromarray(np.ascontiguousarray(rgba[..., :3]), "RGB"), caption)
        if m is None:
            return None
        m = np.asarray(m, bool)
        if m.shape != rgba.shape[:2]:
            raise AssetError(f"the segmentation model returned a {m.shape[1]}x{m.shape[0]} mask for a "
                             f"{rgba.shape[1]}x{rgba.shape[0]} reference: {path}")
        return m if m.any() else None

    key = hashlib.sha256(f"{caption}\0{segmenter.id}".encode()).hexdigest()
    return cached("segmented", path, (key,), run)


def cut_out(scene: "Scene", subject: "Subject", *, segmenter: Segmenter | None = None) -> tuple[Cutout, list[str]]:
    """The cut-out of one subject's reference and the warnings it gave (matte, alpha, segmenter, rectangle)."""
    ref_loc = subject.field_loc("ref")
    path = scene.resolve(subject.ref)
    rgba = load_rgba(path, ref_loc)
    size = (rgba.shape[1], rgba.shape[0])
    where = f"{ref_loc}: " if ref_loc else ""
    if subject.matte is not None:
        matte_loc = subject.field_loc("matte")
        return _crop(rgba, load_matte(scene.resolve(subject.matte), matte_loc, size), "matte"), []
    alpha = rgba[..., 3]
    if alpha.min() < 255:
        mask = alpha >= MATTE_THRESHOLD
        if mask.any():
            return _crop(rgba, mask, "alpha"), []
        return _crop(rgba, np.ones_like(mask), "rectangle"), [
            f"{where}warning: the reference of '{subject.name}' is transparent everywhere; its whole rectangle is "
            f"pasted into the layout image ({BETTER_CUTOUT})"]
    if segmenter is not None:
        found = _segmented(path, rgba, subject_phrase(subject.name, subject.caption), segmenter)
        if found is not None:
            return _crop(rgba, found, "segmentation"), []
        return _crop(rgba, np.ones(rgba.shape[:2], bool), "rectangle"), [
            f"{where}warning: the segmentation model found no subject in the reference of '{subject.name}'; its "
            f"whole rectangle is pasted into the layout (give it a `matte`, or a PNG with transparency)"]
    return _crop(rgba, np.ones(rgba.shape[:2], bool), "rectangle"), [
        f"{where}warning: the reference of '{subject.name}' has no transparency and no matte; its whole rectangle, "
        f"background included, is pasted into the layout image ({BETTER_CUTOUT})"]


def scene_cutouts(scene: "Scene", *, segmenter: Segmenter | None = None) -> tuple[dict[str, Cutout], list[str]]:
    """Every subject's cut-out by name, and the warnings, in file order."""
    cutouts: dict[str, Cutout] = {}
    warnings: list[str] = []
    for s in scene.subjects:
        cutouts[s.name], notes = cut_out(scene, s, segmenter=segmenter)
        warnings += notes
    return cutouts, warnings
