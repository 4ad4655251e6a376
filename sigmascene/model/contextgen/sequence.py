"""ContextGen's token sequence and RoPE ids: [text | main | layout | ref_1 .. ref_n].

Text has a fixed 512 tokens (T5 padded to ContextGen's max_sequence_length, which its masks hard-code). Main
(the noisy latent) and layout are both the canvas grid; main sits at RoPE axis 0 = 0 and everything else at
axis 0 = 1. Each reference keeps its own grid and is shifted diagonally: it starts at the bottom-right corner of
the segment before it (the layout counting as the first), so x starts at W + Σ earlier widths and y at
H + Σ earlier heights. The ids are rounded to bf16 before the rotary embedding is computed, as ContextGen's
`generate(dtype=bfloat16)` does whatever the model dtype: integer positions above 256 then collapse pairwise,
so the sequence *fits* only while every position stays below 257 — beyond, two tokens of one reference would
share a position, which the model never saw in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from ...errors import SigmaError

if TYPE_CHECKING:
    import torch

TEXT_TOKENS = 512
EXACT_BF16_POSITIONS = 256  # every integer 0..256 is exact in bf16 (8 significant bits)


@dataclass(frozen=True)
class SequenceLayout:
    """Token counts of one ContextGen sequence. `grid` is (rows, cols) of the canvas; `ref_sizes` (w, h) per
    reference in tokens, in list order."""

    grid: tuple[int, int]
    ref_sizes: tuple[tuple[int, int], ...]
    n_text: int = TEXT_TOKENS

    @property
    def n_main(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def ends(self) -> list[int]:
        """End offset of each image segment (main, layout, refs) within the image tokens."""
        out = [self.n_main, 2 * self.n_main]
        for w, h in self.ref_sizes:
            out.append(out[-1] + w * h)
        return out

    @property
    def n_image(self) -> int:
        return self.ends[-1]

    @property
    def total(self) -> int:
        return self.n_text + self.n_image

    def ref_origin(self, r: int) -> tuple[int, int]:
        """(x, y) RoPE origin of reference r (0-based)."""
        rows, cols = self.grid
        before = self.ref_sizes[:r]
        return cols + sum(w for w, _ in before), rows + sum(h for _, h in before)

    def first_overflow(self) -> int | None:
        """Index of the first reference whose positions pass 256 (bf16-inexact), or None when all fit."""
        for r, (w, h) in enumerate(self.ref_sizes):
            x, y = self.ref_origin(r)
            if max(x + w, y + h) - 1 > EXACT_BF16_POSITIONS:
                return r
        return None


def sequence_layout(grid: tuple[int, int], ref_sizes: Sequence[tuple[int, int]]) -> SequenceLayout:
    return SequenceLayout(grid=(int(grid[0]), int(grid[1])), ref_sizes=tuple((int(w), int(h)) for w, h in ref_sizes))


def check_fits(layout: SequenceLayout, names: Sequence[str] | None = None,
               locs: Sequence[Any] | None = None) -> None:
    """Refuse more references than the sequence holds with exact positions (see the module docstring); the error
    is located at the first subject that does not fit when `locs` (SourceLocs, per reference) are given."""
    r = layout.first_overflow()
    if r is None:
        return
    who = names[r] if names is not None and r < len(names) else f"reference {r + 1}"
    loc = locs[r] if locs is not None and r < len(locs) else None
    raise SigmaError(f"{who} does not fit ContextGen's sequence: references are placed diagonally in RoPE space and "
                     f"the {r + 1}th passes position {EXACT_BF16_POSITIONS}, where bf16 position ids (as ContextGen "
                     f"computes them) make neighbouring tokens collide; {r} of {len(layout.ref_sizes)} fit at this "
                     "canvas", loc=loc, hint="use fewer subjects, or a smaller canvas (references shrink with it: a "
                     "short side of 512 px or less gives 384-px references)")


def _grid_ids(rows: int, cols: int, x0: int, y0: int, dtype: Any) -> "torch.Tensor":
    import torch

    ids = torch.zeros(rows, cols, 3)
    ids[..., 1] = ids[..., 1] + torch.arange(rows)[:, None] + y0
    ids[..., 2] = ids[..., 2] + torch.arange(cols)[None, :] + x0
    return ids.reshape(rows * cols, 3).to(dtype)


def position_ids(layout: SequenceLayout, *, dtype: Any = None,
                 device: Any = None) -> tuple["torch.Tensor", "torch.Tensor"]:
    """(text ids (512, 3), image ids (K, 3)) in `dtype` (default bf16); built in fp32, then cast, then axis 0 set
    — the order that decides the rounding."""
    import torch

    dtype = torch.bfloat16 if dtype is None else dtype
    rows, cols = layout.grid
    parts = [_grid_ids(rows, cols, 0, 0, dtype)]
    layout_ids = _grid_ids(rows, cols, 0, 0, dtype)
    layout_ids[..., 0] = 1
    parts.append(layout_ids)
    for r, (w, h) in enumerate(layout.ref_sizes):
        x0, y0 = layout.ref_origin(r)
        ids = _grid_ids(h, w, x0, y0, dtype)
        ids[..., 0] = 1
        parts.append(ids)
    text = torch.zeros(layout.n_text, 3).to(dtype)
    return text.to(device), torch.cat(parts).to(device)
