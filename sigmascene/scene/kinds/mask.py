"""`mask "file.png"`: a binary image (non-zero = subject), resized to the canvas. Its coverage is the file, which
the compiler loads with every other asset (`compiler.assets.load_mask`)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Literal

from ..values import build
from .base import Lowerer, PlacementKind, PlacementNode, Printer, Speller, TextEditor, quoted


class Mask(PlacementNode):
    """A binary image (non-zero = subject), resized to the canvas."""

    kind: Literal["mask"] = "mask"
    path: str


def mask(path: str | Path) -> Mask:
    return build(Mask, path=str(path))


class Kind(PlacementKind):
    keyword = "mask"
    usage = 'mask "..."'
    node = Mask
    build = staticmethod(mask)
    control_word = "Mask"
    coverage_file = "path"

    def lower(self, lw: Lowerer, st: Any, pf: Any) -> Mask | None:
        text = st.args[0]
        path = lw.path(text, pf, "mask")
        return None if path is None else lw.make(Mask, st, {"path": path}, {"path": text})

    def print(self, pr: Printer, p: Any) -> str:
        return f"mask {pr.string(p, 'path', p.path)}"

    def edit_text(self, sp: Speller, p: Any) -> str:
        return f"mask {quoted(p.path)}"

    def drag(self, ed: TextEditor, subj: Any, p: Any, fields: dict[str, Any], axes: tuple[int, int]) -> None:
        if "path" in fields:
            ed.string(p, "path", str(fields["path"]))

    def example(self, rng: random.Random) -> str:
        return f"mask {quoted(rng.choice(['masks/lamp.png', 'masks/rug.png']))}"
