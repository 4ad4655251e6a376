"""The SIGMA token layout, shared by inference and the trainer so both see exactly the same sequence.

The transformer reads one sequence ``[P, X, I_S, I_C]``: text tokens P, the noisy latent X, the identity
dictionary I_S and the control map I_C. Images become tokens the Flux way: VAE latents (8x smaller), cut into
2x2 patches, each patch one token. Where a token sits is told only by its RoPE id (axis0, row, col):

* P: (0, 0, 0) for every text token (Flux convention),
* X and I_C: (0, i, j) on the SAME grid, so pixel (i, j) of the control map talks to pixel (i, j) of the image,
* I_S: (1, i, j), the Kontext convention for "a different picture", so identity blocks never alias the canvas.

Every function here is pure tensor arithmetic (no pipeline object) so the trainer can call it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SigmaError

if TYPE_CHECKING:  # torch is heavy; `sigmascene check` must not pay for it
    import torch

#: Pixels per packed token side: the VAE's 8x reduction times the 2x2 patch.
PIXELS_PER_TOKEN = 16
IDENTITY_AXIS = 1  # first RoPE coordinate of I_S tokens
CANVAS_AXIS = 0  # first RoPE coordinate of X and I_C tokens


@dataclass(frozen=True)
class TokenLayout:
    """Sizes of the four token groups and the grids they sit on; the one description of the sequence."""

    n_txt: int
    x_grid: tuple[int, int]  # (rows, cols) of X and I_C tokens
    s_grid: tuple[int, int]  # (rows, cols) of I_S tokens

    @property
    def n_x(self) -> int:
        return self.x_grid[0] * self.x_grid[1]

    @property
    def n_s(self) -> int:
        return self.s_grid[0] * self.s_grid[1]

    @property
    def n_c(self) -> int:
        return self.n_x

    @property
    def n_cond(self) -> int:
        """Condition tokens (I_S then I_C), the part the condition cache stores."""
        return self.n_s + self.n_c

    @property
    def n_img(self) -> int:
        return self.n_x + self.n_cond

    @property
    def total(self) -> int:
        return self.n_txt + self.n_img

    def slices(self) -> dict[str, slice]:
        """Where each group lies in the full sequence [P, X, I_S, I_C]."""
        a = self.n_txt
        b = a + self.n_x
        c = b + self.n_s
        return {"txt": slice(0, a), "x": slice(a, b), "identity": slice(b, c), "control": slice(c, self.total)}


def make_layout(n_txt: int, canvas_hw: tuple[int, int], identity_hw: tuple[int, int],
                vae_scale_factor: int = 8) -> TokenLayout:
    """Layout for a canvas of `canvas_hw` pixels and an identity dictionary of `identity_hw` pixels."""
    step = vae_scale_factor * 2
    for what, (h, w) in (("canvas", canvas_hw), ("identity image", identity_hw)):
        if h % step or w % step or h <= 0 or w <= 0:
            raise SigmaError(f"{what} of {w}x{h} px does not split into {step}x{step} px tokens",
                             hint=f"sizes must be positive multiples of {step}; see condition_image_size()")
    return TokenLayout(n_txt=n_txt, x_grid=(canvas_hw[0] // step, canvas_hw[1] // step),
                       s_grid=(identity_hw[0] // step, identity_hw[1] // step))


# -- packing -------------------------------------------------------------------------------------------------

def pack_latents(latents: "torch.Tensor") -> "torch.Tensor":
    """(B, C, H, W) VAE latents -> (B, H/2 * W/2, 4C) tokens, row-major over 2x2 patches (Flux order)."""
    b, c, h, w = latents.shape
    if h % 2 or w % 2:
        raise ValueError(f"latent grid {h}x{w} must be even to pack 2x2 patches")
    x = latents.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // 2) * (w // 2), c * 4)


def unpack_latents(tokens: "torch.Tensor", grid: tuple[int, int]) -> "torch.Tensor":
    """Inverse of `pack_latents`: (B, rows*cols, 4C) tokens on a `grid` of (rows, cols) -> (B, C, 2rows, 2cols)."""
    b, n, ch = tokens.shape
    rows, cols = grid
    if n != rows * cols:
        raise ValueError(f"{n} tokens do not fill a {rows}x{cols} grid")
    x = tokens.view(b, rows, cols, ch // 4, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, ch // 4, rows * 2, cols * 2)


# -- RoPE ids ------------------------------------------------------------------------------------------------

def grid_ids(rows: int, cols: int, axis0: int = CANVAS_AXIS, *, device: Any = None,
             dtype: Any = None) -> "torch.Tensor":
    """(rows*cols, 3) RoPE ids (axis0, i, j), row-major like `pack_latents`."""
    import torch

    ids = torch.zeros(rows, cols, 3, device=device, dtype=dtype or torch.float32)
    ids[..., 0] = axis0
    ids[..., 1] = torch.arange(rows, device=device)[:, None]
    ids[..., 2] = torch.arange(cols, device=device)[None, :]
    return ids.reshape(rows * cols, 3)


def text_ids(n_txt: int, *, device: Any = None, dtype: Any = None) -> "torch.Tensor":
    import torch

    return torch.zeros(n_txt, 3, device=device, dtype=dtype or torch.float32)


def sequence_ids(layout: TokenLayout, *, device: Any = None, dtype: Any = None) -> dict[str, "torch.Tensor"]:
    """RoPE ids of every group: txt, x, cond (= I_S then I_C), and img (= X, I_S, I_C, what Flux calls img_ids)."""
    import torch

    txt = text_ids(layout.n_txt, device=device, dtype=dtype)
    x = grid_ids(*layout.x_grid, CANVAS_AXIS, device=device, dtype=dtype)
    s = grid_ids(*layout.s_grid, IDENTITY_AXIS, device=device, dtype=dtype)
    cond = torch.cat([s, x.clone()], dim=0)  # I_C shares X's grid
    return {"txt": txt, "x": x, "cond": cond, "img": torch.cat([x, cond], dim=0)}


# -- condition images ----------------------------------------------------------------------------------------

def condition_image_size(height: int, width: int, vae_scale_factor: int = 8) -> tuple[int, int]:
    """The nearest token-aligned size (multiples of 16 px) for an image; identity blocks of odd sizes are scaled."""
    step = vae_scale_factor * 2
    return max(step, int(round(height / step)) * step), max(step, int(round(width / step)) * step)


def to_uint8_rgb(image: Any) -> np.ndarray:
    """PIL image or (H, W, 3|4) / (H, W) array -> (H, W, 3) uint8; anything else is a user error."""
    if hasattr(image, "convert"):  # PIL
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise SigmaError(f"expected an RGB image (H, W, 3), got an array of shape {arr.shape}")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and float(np.nanmax(arr)) <= 1.0:
            arr = arr * 255.0
        arr = np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr[..., :3])


def prepare_condition_image(image: Any, size: tuple[int, int] | None = None, *,
                            nearest: bool = False) -> "torch.Tensor":
    """An image as a (1, 3, H, W) float tensor in [-1, 1], resized to `size` (H, W) when given.

    `nearest=True` for the control map I_C: its routing intensities (10, 20, ...) are labels, and a bilinear
    resize would invent in-between labels that point at the wrong identity block.
    """
    import torch
    from PIL import Image

    arr = to_uint8_rgb(image)
    if size is not None and arr.shape[:2] != tuple(size):
        resample = Image.Resampling.NEAREST if nearest else Image.Resampling.BICUBIC
        pil = Image.fromarray(arr).resize((size[1], size[0]), resample)
        arr = np.asarray(pil, dtype=np.uint8)
    t = torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)
    return t.unsqueeze(0)


def encode_image_latents(vae: Any, pixels: "torch.Tensor") -> "torch.Tensor":
    """Clean, deterministic VAE latents (the posterior mode, as Kontext does), shifted and scaled for Flux."""
    import torch

    device = next(vae.parameters()).device
    dtype = vae.dtype
    with torch.no_grad():
        dist = vae.encode(pixels.to(device=device, dtype=dtype)).latent_dist
    lat = dist.mode()
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    return (lat - shift) * vae.config.scaling_factor


def encode_conditions(vae: Any, control: Any, identity: Any, *, canvas_hw: tuple[int, int] | None = None,
                      vae_scale_factor: int = 8) -> tuple["torch.Tensor", tuple[int, int], tuple[int, int]]:
    """Encode I_S and I_C into the condition tokens [I_S, I_C] (1, n_s + n_c, 4C).

    Returns the tokens plus the (H, W) pixel sizes actually used for the canvas and the identity dictionary,
    which `make_layout` turns into the token layout. I_C is fitted to the canvas with nearest-neighbour sampling.
    """
    import torch

    ctrl = to_uint8_rgb(control)
    ident = to_uint8_rgb(identity)
    canvas = canvas_hw or condition_image_size(ctrl.shape[0], ctrl.shape[1], vae_scale_factor)
    ident_hw = condition_image_size(ident.shape[0], ident.shape[1], vae_scale_factor)
    s = encode_image_latents(vae, prepare_condition_image(ident, ident_hw))
    c = encode_image_latents(vae, prepare_condition_image(ctrl, canvas, nearest=True))
    return torch.cat([pack_latents(s), pack_latents(c)], dim=1), (canvas[0], canvas[1]), ident_hw
