"""Located diagnostics shared by the parser, the Scene validator and the compiler.

Every stage reports problems the same way a compiler does (``file:line:col: error: ...``, the source line,
a caret, a hint) so that an error discovered late — a missing reference image found while compiling — still
points into the file the user wrote.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence


@dataclass(frozen=True)
class SourceLoc:
    """A position in a `.sigma` file (1-based line and column), like pbrt-v4's ``FileLoc``."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


# Source texts seen by the parser, so a diagnostic can quote the offending line even when the file was given
# as a string (``loads``) or has changed on disk since. Lines are split at "\n" only, the way the parser
# counts them, so the quoted line is the line the error names whatever else (\x0c, \x85, U+2028) the text holds.
_SOURCES: dict[str, str] = {}
_LINES: dict[str, list[str]] = {}
_UNQUOTED: set[str] = set()
QUOTE_WIDTH = 100  # characters of a long line shown around the caret


def remember_source(file: str, text: str, *, quote: bool = True) -> None:
    """Keep `text` for quoting; quote=False marks a file whose content must never be printed (not a scene)."""
    _LINES.pop(file, None)
    if quote:
        _SOURCES[file] = text
        _UNQUOTED.discard(file)
    else:
        _SOURCES.pop(file, None)
        _UNQUOTED.add(file)


def source_line(loc: SourceLoc) -> str | None:
    if loc.file in _UNQUOTED:
        return None
    lines = _LINES.get(loc.file)
    if lines is None:
        text = _SOURCES.get(loc.file)
        if text is None:
            text = _read_scene_text(loc.file)
            if text is None:
                return None
        lines = _LINES[loc.file] = text.split("\n")
    if 1 <= loc.line <= len(lines):
        return lines[loc.line - 1].removesuffix("\r")
    return None


def _read_scene_text(file: str) -> str | None:
    """A `.sigma` file not seen by the parser (edited since?), read only when it is a small regular file."""
    import os
    import stat

    if not file.endswith(".sigma") or "\x00" in file:
        return None
    try:
        st = os.stat(file)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 10_000_000:
            return None
        return Path(file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A did-you-mean hint for a misspelt keyword or name, or None when nothing is close."""
    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


@dataclass
class Diagnostic:
    message: str
    loc: SourceLoc | None = None
    hint: str | None = None
    severity: str = "error"
    # Other places that belong to the same problem (every edge of a depth cycle, a first definition, ...).
    related: list[tuple[str, SourceLoc | None]] = field(default_factory=list)

    def format(self) -> str:
        head = f"{self.loc}: " if self.loc else ""
        out = [f"{head}{self.severity}: {self.message}"]
        out += _quote(self.loc)
        for note, loc in self.related:
            out.append(f"{loc}: note: {note}" if loc else f"note: {note}")
            out += _quote(loc)
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)

    def to_json(self) -> dict:
        return {
            "file": self.loc.file if self.loc else None,
            "line": self.loc.line if self.loc else None,
            "column": self.loc.column if self.loc else None,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "related": [
                {"message": m, "file": at.file, "line": at.line, "column": at.column} if at else {"message": m}
                for m, at in self.related
            ],
        }


def _quote(loc: SourceLoc | None) -> list[str]:
    if loc is None:
        return []
    line = source_line(loc)
    if line is None:
        return []
    # One character per column, so the caret stands under the column the message names: tabs and control
    # characters (\r, \x0c, \x85, U+2028 ...) would move or break the terminal line.
    col = max(1, loc.column)
    if len(line) > QUOTE_WIDTH:  # a 500 KB line is cut to a window around the caret
        start = max(0, min(col - 1 - QUOTE_WIDTH // 2, len(line) - QUOTE_WIDTH))
        head, tail = ("…" if start > 0 else ""), ("…" if start + QUOTE_WIDTH < len(line) else "")
        line = head + line[start:start + QUOTE_WIDTH] + tail
        col = col - start + len(head)
    return [f"    {line.translate(_BLANK)}", "    " + " " * (col - 1) + "^"]


# Characters that would move the caret or break the terminal line, shown as one space each.
_BLANK = {c: " " for c in [*range(0x20), *range(0x7f, 0xa0), 0x2028, 0x2029]}


class SigmaError(Exception):
    """One or more located problems with a scene. The only exception type users of sigmascene should see."""

    def __init__(self, diagnostics: Diagnostic | Sequence[Diagnostic] | str, loc: SourceLoc | None = None,
                 hint: str | None = None):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(diagnostics, loc, hint)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__(self.format())

    def format(self) -> str:
        return "\n".join(d.format() for d in self.diagnostics)

    def to_json(self) -> str:
        return json.dumps([d.to_json() for d in self.diagnostics], indent=2)


# Kinds of problem, so a caller can catch what it means (a missing asset, not a typo) and a message can say where
# to look. Every kind is still a SigmaError: `except SigmaError` keeps catching everything the project reports.
class SigmaSyntaxError(SigmaError):
    """The scene text is not valid sigma: a parse error, an unknown name, a misplaced statement."""


class SceneValidationError(SigmaError):
    """A value is out of its range or inconsistent (also through the Python API); ``details`` keeps pydantic's."""

    def __init__(self, diagnostics: Diagnostic | Sequence[Diagnostic] | str, loc: SourceLoc | None = None,
                 hint: str | None = None, details: list | None = None):
        super().__init__(diagnostics, loc, hint)
        self.details: list = list(details or [])


class AssetError(SigmaError):
    """A file the scene or config names is missing, unreadable, too large, or outside the allowed root."""


class ConfigError(SigmaError):
    """A train / build / eval config file or option is wrong."""


class ModelError(SigmaError):
    """A model folder, LoRA or checkpoint is missing, of the wrong kind, or does not fit the base."""
