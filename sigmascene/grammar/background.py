"""Lowering of `background "photo"` and `background_depth "depth"`, the header statements of photo insertion.

The photo is read (its header only) while lowering, because without a `canvas` statement the canvas is the
photo's size and `px` coordinates of the subjects need that size.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AssetError, SigmaError
from ..core.paths import stat_regular
from ..scene import Background, Canvas, photo_canvas
from .lowering import Lowering
from .parser import Text

if TYPE_CHECKING:
    from .parser import ParsedFile, ValueStmt


def lower_background(lw: Lowering, st: "ValueStmt", pf: "ParsedFile") -> None:
    if not lw.once("background", st, "background"):
        return
    assert isinstance(st.value, Text)  # the grammar: background "path"
    path = lw.path(st.value, pf, "background photo")
    if path is not None:
        node = Background(path=path)
        node._loc, node._spans[""] = st.loc, st.span
        lw.record(node, "path", st.value, path)
        lw.scene.background = node
        lw.anchor(st, node, "")


def finish_background(lw: Lowering, st: "ValueStmt | None", pf: "ParsedFile | None") -> None:
    """Attach `background_depth` to the background (it may come first), then size the canvas from the photo
    when the scene gives no `canvas`."""
    bg = lw.scene.background
    if st is not None and pf is not None and lw.once("background_depth", st, "background_depth"):
        if bg is None:
            if "background" not in lw.first:
                lw.error("`background_depth` needs a `background` photo", st.loc,
                         'add `background "photo.jpg"` above it')
        else:
            assert isinstance(st.value, Text)  # the grammar: background_depth "path"
            depth = lw.path(st.value, pf, "background depth")
            if depth is not None:
                bg.depth = depth
                lw.record(bg, "depth", st.value, depth)
                lw.anchor(st, bg, "depth")
    if bg is None or "canvas" in lw.first:
        return
    from PIL import Image, UnidentifiedImageError

    loc = bg.field_loc("path")
    path = Path(bg.path) if os.path.isabs(bg.path) else lw.base_dir / bg.path
    try:
        stat_regular(path, loc, "background photo", "check the path, or give a `canvas` statement")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:  # the header only; the compiler decodes it, within its pixel limit
                size = im.size
    except SigmaError as err:
        if not lw.fragment:  # `fmt` needs no canvas size (it prints what was written); `check` reports the file
            lw.absorb(err)
        return
    except Image.DecompressionBombError:
        if not lw.fragment:
            lw.absorb(AssetError(f"background photo is too large to decode safely: {bg.path}", loc,
                                 "downscale it first"))
        return
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        if not lw.fragment:
            lw.absorb(AssetError(f"background photo is not an image Pillow can read: {bg.path} ({exc})", loc))
        return
    w, h = photo_canvas(*size)
    lw.scene.canvas = Canvas(width=w, height=h)
