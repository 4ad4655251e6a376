"""A TOML config file read the way every config of the project is read: its text kept for locating later
errors, and a syntax error as a located ConfigError (`file:line:col`, the line quoted) instead of tomllib's
exception. train.toml and build.toml share it, so the two report a broken file alike."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from ..errors import ConfigError, SourceLoc


def read_toml(path: str | Path) -> tuple[str, dict]:
    """(text, table) of the TOML file at `path`."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"config {p} is a folder, not a TOML file", hint="name the .toml file inside it")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a BOM (Windows editors write one) is not part of the TOML
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = len(data[data.rfind(b"\n", 0, err.start) + 1:err.start].decode("utf-8", errors="replace")) + 1
        raise ConfigError(f"not valid TOML: the file is not UTF-8 text (byte {data[err.start]:02x})",
                          SourceLoc(str(p), line, column),
                          hint="TOML files are UTF-8; save it with that encoding") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        m = re.search(r"line (\d+), column (\d+)", str(err))
        loc = SourceLoc(str(p), int(m.group(1)), int(m.group(2))) if m else SourceLoc(str(p), 1, 1)
        raise ConfigError(f"not valid TOML: {str(err).split(' (at')[0]}", loc) from None
