"""The `.sigma` language: Lark grammar (sigma.lark), parser (text -> Scene) and canonical printer (Scene -> text)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from ..scene import Scene


def loads(text: str, *, file: str = "<string>", base_dir: str | Path | None = None,
          overrides: Mapping[str, str] | None = None) -> "Scene":
    """Parse and validate `.sigma` text. `overrides` are `--set NAME=VALUE` pairs for `param`s."""
    from .parser import parse_text

    return parse_text(text, file=file, base_dir=base_dir, overrides=overrides)


def load(path: str | Path, *, overrides: Mapping[str, str] | None = None) -> "Scene":
    """Parse and validate a `.sigma` file; relative paths inside it resolve against its folder."""
    from .parser import parse_file

    return parse_file(path, overrides=overrides)


def dumps(scene: "Scene") -> str:
    """Print a Scene as canonical `.sigma` text; `loads(dumps(s)) == s`."""
    from .printer import print_scene

    return print_scene(scene)
