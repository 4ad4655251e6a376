"""Checking a command's output files before the work: a render takes minutes, so a folder named like the image,
a parent that is a file, or a user's own picture in the way is refused first, not after.

A file sigmascene wrote is replaced freely (re-running a render or preview is the normal loop); anything else
needs --force. A render is ours when its sidecar JSON says so; a preview PNG carries a text chunk saying so
(files.PNG_MARK).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable

from ..errors import ConfigError
from ..core.files import has_png_mark, png_mark, refuse_unmarked_png

#: One rule for every command's outputs without -o: beside the scene file, named after it (README, "Where outputs
#: go"). living_room.sigma -> living_room.png, living_room.sheet.png, living_room.layout.png, living_room.maps/ ...
BESIDE = {"render": ".png", "sheet": ".sheet.png", "layout": ".layout.png", "preview": ".preview.png",
          "compile": ".maps"}


def beside(scene: Path, what: str) -> Path:
    """Where `what` (a key of BESIDE) goes for `scene` when no -o is given."""
    return scene.with_name(scene.stem + BESIDE[what])


def beside_help(what: str, extra: str = "") -> str:
    """The help text of an -o option, saying the default the rule resolves to."""
    return f"default: beside FILE, as <name>{BESIDE[what]}{extra}"


#: The most samples/scenes a --count takes: 10**20 was an OverflowError traceback (data build) or ran for ever.
MAX_COUNT = 10**9


def check_finite(option: str, value: float | None) -> None:
    """nan/inf pass typer's float parsing (and any min/max) and rendered a blank image with exit 0."""
    if value is not None and not math.isfinite(value):
        raise ConfigError(f"{option} must be a finite number, got {value}", hint=f"for example: {option} 2.5")


def check_writable_file(path: Path, what: str = "output") -> None:
    """The path can become a file: it is no folder, and no part of its parent is a file."""
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a folder", hint="name a file inside it, e.g. "
                          f"{path / ('out' + (path.suffix or '.png'))}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"cannot write {what} {path}: {parent} is a file, not a folder",
                                  hint="choose another path")
            break


def _is_render_sidecar(sidecar: Path, image: Path) -> bool:
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("image") == image.name and "sigmascene" in (data.get("versions") or {})


def refuse_foreign_renders(images: Iterable[Path], force: bool) -> None:
    """Each image and its `.json` sidecar: new, or an earlier render of ours, or --force."""
    for image in images:
        check_writable_file(image, "output image")
        sidecar = image.with_suffix(".json")
        check_writable_file(sidecar, "sidecar")
        layout = image.with_name(f"{image.stem}.layout.png")  # a method's file beside the render (collage)
        if layout.exists() and not force and not has_png_mark(layout):  # ours (a preview, a render) is replaced
            raise ConfigError(f"{layout} already exists and was not drawn by sigmascene; refusing to overwrite it",
                              hint="choose another -o, or pass --force to replace it")
        if force or not (image.exists() or sidecar.exists()):
            continue
        if not _is_render_sidecar(sidecar, image):
            present = " and ".join(str(p) for p in (image, sidecar) if p.exists())
            raise ConfigError(f"{present} already exist{'s' if ' and ' not in present else ''} and "
                              f"{'was' if ' and ' not in present else 'were'} not written by `sigmascene render`; "
                              f"refusing to overwrite", hint="choose another -o, or pass --force to replace it")


def refuse_foreign_preview(path: Path, force: bool) -> None:
    check_writable_file(path, "preview")
    refuse_unmarked_png(path, force, "preview", "-o")


def preview_pnginfo():
    return png_mark("preview")
