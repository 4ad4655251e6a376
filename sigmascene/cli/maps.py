"""`sigmascene compile` and `sigmascene preview`: the compiler's outputs as files a trainer or a person reads."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import SigmaError
from ..core.files import save_image_atomic
from ..core.vocab import routing_intensity
from ._app import app
from .outputs import BESIDE, beside, beside_help, preview_pnginfo, refuse_foreign_preview
from .common import ROOT_HELP, SAFE_HELP, SET_HELP, console, load_scene, parse_identity_size, scene_root, user_errors



def _compile(file: Path, sets: Optional[list[str]], identity_size: Optional[str] = None, root=None):
    scene = load_scene(file, sets, root)
    from ..compiler import compile_scene

    with user_errors():
        with console.status(f"compiling {file}"):
            return compile_scene(scene, identity_size=parse_identity_size(identity_size))


def _report_warnings(compiled) -> None:
    for w in compiled.warnings:
        print(w, file=sys.stderr)


@app.command("compile")
def compile_cmd(
    file: Path = typer.Argument(..., help="`.sigma` scene file."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Output folder for control.png, identity.png, "
                                       f"manifest.json ({beside_help('compile', '/')})."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP, metavar="NAME=VALUE"),
    identity_size: Optional[str] = typer.Option(None, "--identity-size", metavar="HxW",
                                                help="Size of one identity block (default: half the canvas)."),
    force: bool = typer.Option(False, "--force",
                               help="Overwrite control/identity/manifest files not written by sigmascene."),
    safe: bool = typer.Option(False, "--safe", help=SAFE_HELP),
    root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP),
) -> None:
    """Compile a scene into SIGMA's control maps.

    The control image I_C, the identity dictionary I_S and manifest.json."""
    out = out or beside(file, "compile")
    compiled = _compile(file, set_, identity_size, scene_root(safe, root))
    _report_warnings(compiled)
    with user_errors():
        compiled.save(out, overwrite=force)
    h, w = compiled.control.shape[:2]
    print(f"wrote {out}/control.png ({w}x{h}), {out}/identity.png ({compiled.identity.shape[1]}x"
          f"{compiled.identity.shape[0]}), {out}/manifest.json: {len(compiled.order)} subjects far→near: "
          f"{', '.join(f'{routing_intensity(k + 1)}={n}' for k, n in enumerate(compiled.order))}")


def _open(path: Path) -> None:
    """Hand the picture to the desktop's viewer when there is one; say so when there is none."""
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    if sys.platform.startswith("win"):
        os.startfile(str(path))  # type: ignore[attr-defined]  # Windows only; mypy checks for Linux
    elif shutil.which(opener) and (sys.platform == "darwin" or os.environ.get("DISPLAY")
                                   or os.environ.get("WAYLAND_DISPLAY")):
        subprocess.Popen([opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        console.print(f"no image viewer available here; open {path} yourself")


def _save_png(image, path: Path) -> None:
    save_image_atomic(image, path, pnginfo=preview_pnginfo())  # marked, so a re-run may replace it


@app.command()
def preview(
    file: Path = typer.Argument(..., help="`.sigma` scene file."),
    maps: bool = typer.Option(False, "--maps",
                              help="Contact sheet: layout, IR_asc, IR_desc, depth, identity dictionary."),
    out: Optional[Path] = typer.Option(None, "-o", "--out",
                                       help=f"PNG to write ({beside_help('layout')}; with --maps "
                                            f"<name>{BESIDE['preview']})."),
    open_: bool = typer.Option(False, "--open", help="Open the picture in an image viewer when one exists."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP, metavar="NAME=VALUE"),
    safe: bool = typer.Option(False, "--safe", help=SAFE_HELP),
    root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing PNG that is not a sigmascene preview."),
) -> None:
    """Draw the scene's layout into one PNG.

    With --maps: every compiled map, as one contact sheet."""
    path = out or beside(file, "preview" if maps else "layout")
    with user_errors():
        if path.suffix.lower() != ".png":
            raise SigmaError(f"preview writes PNG files; -o should end in .png, got {path}")
        refuse_foreign_preview(path, force)  # before compiling: a user's picture is never replaced unasked
    compiled = _compile(file, set_, root=scene_root(safe, root))
    _report_warnings(compiled)
    from ..compiler.preview import contact_sheet, layout_preview

    image = contact_sheet(compiled) if maps else layout_preview(compiled)
    try:
        _save_png(image, path)
    except OSError as exc:
        with user_errors():
            raise SigmaError(f"cannot write {path}: {exc.strerror or exc}",
                             hint="choose another file with -o") from None
    print(f"wrote {path} ({image.width}x{image.height})")
    if open_:
        _open(path)
