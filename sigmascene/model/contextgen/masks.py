"""ContextGen's two boolean attention masks over [text | main | layout | refs], True = may attend.

* reference-aware: text queries see text, main and layout (never references); every image query sees all text;
  main and layout see each other; a main token inside reference r's box also sees r's valid tokens (boxes may
  overlap: such a token sees every reference whose box holds it); reference r's tokens (valid or not) see only
  r's valid tokens (and text). Main tokens outside every box see no reference.
* layout-only: the same, except main and layout see no reference at all.

ContextGen uses layout-only in every double-stream block and in the second half of the single-stream blocks
(index >= N_single // 2), reference-aware in the first half — see attention.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from .sequence import SequenceLayout

if TYPE_CHECKING:
    import torch


@dataclass
class ContextGenMasks:
    """Both masks, (1, 1, S, S) bool, broadcast over batch and heads by SDPA."""

    reference_aware: "torch.Tensor"
    layout_only: "torch.Tensor"

    def to(self, device: Any) -> "ContextGenMasks":
        return ContextGenMasks(self.reference_aware.to(device), self.layout_only.to(device))


def attention_masks(layout: SequenceLayout, boxes: Sequence[tuple[int, int, int, int]],
                    valid: Sequence["torch.Tensor"], *, device: Any = None) -> ContextGenMasks:
    """Masks for `layout` with per-reference token boxes (x1, y1, x2, y2; end exclusive, in the canvas grid)
    and valid-token masks ((w*h,) bool each)."""
    import torch

    if not len(boxes) == len(valid) == len(layout.ref_sizes):
        raise ValueError("one box and one token mask per reference")
    rows, cols = layout.grid
    t, m = layout.n_text, layout.n_main
    s = layout.total
    ra = torch.zeros(s, s, dtype=torch.bool)
    ra[:t, : t + 2 * m] = True
    ra[t:, :t] = True
    ra[t: t + 2 * m, t: t + 2 * m] = True
    ends = layout.ends
    for r, ((x1, y1, x2, y2), ok) in enumerate(zip(boxes, valid)):
        start, end = t + ends[r + 1], t + ends[r + 2]
        ok = ok.to(torch.bool).reshape(-1)
        if ok.numel() != end - start:
            raise ValueError(f"reference {r}: token mask has {ok.numel()} entries, its segment {end - start}")
        cols_ok = start + torch.nonzero(ok).flatten()
        inside = torch.zeros(rows, cols, dtype=torch.bool)
        inside[y1:y2, x1:x2] = True
        rows_in = t + torch.nonzero(inside.flatten()).flatten()
        ra[rows_in[:, None], cols_ok[None, :]] = True
        ra[start:end, start:end] = ok[None, :]
    lo = ra.clone()
    lo[t: t + 2 * m, t + 2 * m:] = False
    return ContextGenMasks(ra[None, None].to(device), lo[None, None].to(device))
