"""A TOML config file read the way every config of the project is read: its text kept for locating later
errors, and a syntax error as a located ConfigError (`file:line:col`, the line quoted) instead of tomllib's
exception. train.toml and build.toml share it, so the two report a broken file alike."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from .errors import ConfigError, SourceLoc


def read_toml(path: str | Path) -> tuple[str, dict]:
    """(text, table) of the TOML file at `path`."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        m = re.search(r"line (\d+), column (\d+)", str(err))
        loc = SourceLoc(str(p), int(m.group(1)), int(m.group(2))) if m else SourceLoc(str(p), 1, 1)
        raise ConfigError(f"not valid TOML: {str(err).split(' (at')[0]}", loc) from None
