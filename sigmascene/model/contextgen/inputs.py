"""What ContextGen does to its inputs before anything is encoded: canvas grid, reference size, masks, boxes.

Each rule reproduces ContextGen's own preprocessing (nenhang/ContextGen `generate.check_inputs`,
`process_layout_image`, `prepare_reference_latents`), because its LoRA learned those exact statistics:

* the canvas must lie on the 16-px token grid (one token = one 2x2 patch of 8x-downsampled latents);
* a reference keeps its own aspect ratio and is resized to about base² pixels, base chosen by the canvas's short
  side, each side truncated then rounded *up* to a multiple of 16 — resized with PIL's default filter (bicubic);
* a reference's pixels are blanked (to 0 in [-1, 1]) where its mask is below 128, while its *token* mask is a
  second bicubic downsample of the mask to the token grid where any non-zero value counts;
* a box becomes the token rectangle it touches (floor of the start, ceil of the end, in 16-px tokens);
* the layout image is RGBA: RGB resized with Lanczos, alpha with nearest, pixels blanked where alpha < 128.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import SigmaError

TOKEN_PX = 16  # pixels per token side: VAE 8x, then 2x2 patches

#: (short side up to, reference base size): ContextGen's reference size by canvas.
BASE_SIZES = ((384, 256), (512, 384), (768, 512), (1024, 768))
LARGEST_BASE = 1024


def reference_base_size(height: int, width: int) -> int:
    """The side of the square area a reference is resized to, from the canvas's short side."""
    short = min(height, width)
    for limit, base in BASE_SIZES:
        if short <= limit:
            return base
    return LARGEST_BASE


def _up16(n: float) -> int:
    return ((int(n) + 15) // 16) * 16


def uniform_resize_16x(size: tuple[int, int], base: int) -> tuple[int, int]:
    """(w, h) scaled to an area of about base², aspect kept, each side truncated then rounded up to 16 (min 16)."""
    w, h = size
    k = math.sqrt(base * base / (w * h))
    return max(16, _up16(w * k)), max(16, _up16(h * k))


def round_canvas(width: int, height: int) -> tuple[int, int, str | None]:
    """The nearest canvas on the 16-px grid (at least 16), and a note when it differs. ContextGen itself refuses
    other sizes; a scene's canvas is a user's choice, so it is rounded and said."""
    w, h = (max(TOKEN_PX, int(round(v / TOKEN_PX)) * TOKEN_PX) for v in (width, height))
    if (w, h) == (width, height):
        return w, h, None
    return w, h, (f"ContextGen renders on a 16-px grid: canvas {width}x{height} rounded to {w}x{h} "
                  "(layout scaled with it)")


@dataclass
class Reference:
    """One instance as ContextGen's pipeline receives it: RGB and mask (mode L) at the resized size, and its box
    in canvas pixels (x1, y1, x2, y2)."""

    image: Any
    mask: Any
    bbox: tuple[int, int, int, int]

    @property
    def token_size(self) -> tuple[int, int]:
        """(w, h) in tokens."""
        return self.image.width // TOKEN_PX, self.image.height // TOKEN_PX


def _open(image: Any) -> Any:
    from PIL import Image

    if isinstance(image, (str, Path)):
        try:
            img = Image.open(image)
            img.load()
        except OSError as err:
            raise SigmaError(f"cannot read reference image {image}: {err}") from None
        return img
    if not isinstance(image, Image.Image):
        raise SigmaError(f"a ContextGen reference must be a PIL image or a path, got {type(image).__name__}")
    return image


def load_reference(image: Any, bbox: Any, *, base: int | None, mask: Any = None) -> Reference:
    """A reference as ContextGen reads it: with `mask` the image is RGB (alpha dropped, not premultiplied) and
    the mask greyscale; without, the image must carry alpha (or a palette transparency), which becomes the mask.
    `base` None keeps the size (only for references already resized)."""
    img = _open(image)
    if mask is not None:
        rgb, m = img.convert("RGB"), _open(mask).convert("L")
    elif img.mode == "RGBA":
        rgb, m = img.convert("RGB"), img.split()[-1]
    elif img.mode == "P" and "transparency" in img.info:
        see_through = img.info["transparency"]
        m = img.convert("L").point(lambda p: 255 if p == see_through else 0)
        rgb = img.convert("RGB")
    else:
        raise SigmaError(f"a ContextGen reference needs a mask: an RGBA image or an explicit mask (got mode "
                         f"{img.mode})", hint="cut the subject out (alpha), or pass its mask")
    if base is not None:
        size = uniform_resize_16x(rgb.size, base)
        rgb, m = rgb.resize(size), m.resize(size)  # PIL's default filter, as theirs
    if rgb.width % TOKEN_PX or rgb.height % TOKEN_PX:
        raise SigmaError(f"a reference of {rgb.width}x{rgb.height} px is not on the 16-px grid; pass `base`")
    x1, y1, x2, y2 = (int(v) for v in bbox)
    return Reference(image=rgb, mask=m, bbox=(x1, y1, x2, y2))


def token_box(bbox: tuple[int, int, int, int], grid: tuple[int, int]) -> tuple[int, int, int, int]:
    """Token rectangle (x1, y1, x2, y2), end exclusive, of every token a pixel box touches, clipped to the grid
    (rows, cols); for boxes inside the canvas this equals ContextGen's unclipped floor/ceil."""
    rows, cols = grid
    x1, y1, x2, y2 = bbox
    tx1, ty1 = math.floor(x1 / TOKEN_PX), math.floor(y1 / TOKEN_PX)
    tx2, ty2 = math.ceil(x2 / TOKEN_PX), math.ceil(y2 / TOKEN_PX)
    return (min(max(tx1, 0), cols), min(max(ty1, 0), rows), min(max(tx2, 0), cols), min(max(ty2, 0), rows))


def token_mask(ref: Reference) -> Any:
    """(h*w,) bool: the reference tokens other tokens may attend — a bicubic downsample of its mask to the token
    grid, any non-zero value counting."""
    import numpy as np
    import torch

    w, h = ref.token_size
    return torch.from_numpy(np.array(ref.mask.resize((w, h))) > 0).reshape(w * h)


def layout_planes(layout: Any, width: int, height: int) -> tuple[Any, Any]:
    """(RGB, alpha) of an RGBA layout image at the canvas size: Lanczos for colour, nearest for alpha."""
    from PIL import Image

    img = _open(layout)
    if img.mode != "RGBA":
        raise SigmaError(f"the ContextGen layout image must be RGBA (alpha marks subject pixels), got {img.mode}")
    alpha = img.split()[-1]
    rgb = img.convert("RGB").resize((width, height), resample=Image.Resampling.LANCZOS)
    return rgb, alpha.resize((width, height), resample=Image.Resampling.NEAREST)
