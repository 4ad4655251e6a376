"""What every command shares: `--set` parsing, scene loading, and turning SigmaError into a clean exit."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NoReturn, Optional

import typer
from rich.console import Console

from ..errors import SigmaError

console = Console(stderr=True, highlight=False)

SET_HELP = "Override a `param`: NAME=VALUE (repeatable)."


def parse_sets(sets: Optional[list[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in sets or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(SigmaError(f"--set expects NAME=VALUE, got {item!r}", hint="for example: --set rug_x=0.4"))
        out[name.strip()] = value.strip()
    return out


SAFE_HELP = "Confine every file the scene names (include, ref, mask, depth map, mesh) to its folder."
ROOT_HELP = "Confine every file the scene names to DIR (implies --safe)."


def scene_root(safe: bool, root: Optional[Path]) -> "Path | bool | None":
    """What `--safe` / `--root DIR` mean for the library's `root=`: True = the scene's own folder."""
    return root if root is not None else (True if safe else None)


def load_scene(path: Path, sets: Optional[list[str]] = None, root: "Path | bool | None" = None):
    """Load + validate a scene file for a command, exiting cleanly on any user error."""
    from ..grammar import load

    with user_errors():
        return load(path, overrides=parse_sets(sets), root=root)


def fail(err: SigmaError) -> NoReturn:
    print(err.format(), file=sys.stderr)
    raise typer.Exit(1)


@contextmanager
def user_errors() -> Iterator[None]:
    """Print SigmaError the way a compiler does and exit 1, instead of a traceback."""
    try:
        yield
    except SigmaError as err:
        fail(err)
    except OSError as err:  # a full disk, a read-only folder: say which file, never a traceback
        name = f" {err.filename}" if err.filename else ""
        fail(SigmaError(f"cannot write or read{name}: {err.strerror or err}",
                        hint="check free space and permissions, or choose another folder"))


def parse_identity_size(text: Optional[str]) -> Optional[tuple[int, int]]:
    """`--identity-size HxW` as (H, W); None keeps the compiler's default (half the canvas)."""
    if text is None:
        return None
    h, sep, w = text.lower().partition("x")
    if not sep or not h.strip().isdigit() or not w.strip().isdigit():
        raise SigmaError(f"--identity-size expects HxW in pixels, got {text!r}", hint="for example: 512x512")
    return int(h), int(w)
