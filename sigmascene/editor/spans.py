"""Where things stand in `.sigma` text: a light tokenizer and span finders keyed by the parser's locations.

The parser records the line and column where each value starts; an edit needs where it ends too (a number
and its unit, a whole placement item, a block's closing brace). Tokenizing from the start offset with the same
token shapes as sigma.lark finds that end without re-parsing, and skips strings and comments correctly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import SourceLoc

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"([^"\\\n]|\\.)*")
  | (?P<param>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[(){},=])
  | (?P<other>.)
""", re.VERBOSE)
UNITS = ("deg", "rad", "px", "m", "cm")


@dataclass
class Tok:
    kind: str
    text: str
    start: int
    end: int


def tokens(text: str, start: int = 0):
    """Tokens from `start`, skipping whitespace and comments."""
    pos = start
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m is not None  # `other` matches any single character
        kind = m.lastgroup or "other"
        if kind not in ("ws", "comment"):
            yield Tok(kind, m.group(0), m.start(), m.end())
        pos = m.end()


def offset(text: str, line: int, column: int) -> int:
    """Character offset of a 1-based (line, column)."""
    pos = 0
    for _ in range(line - 1):
        nl = text.find("\n", pos)
        if nl < 0:
            return len(text)
        pos = nl + 1
    return min(len(text), pos + column - 1)


def loc_offset(text: str, loc: SourceLoc) -> int:
    return offset(text, loc.line, loc.column)


def scalar_span(text: str, start: int) -> tuple[int, int, str | None]:
    """(start, end, unit) of `NUMBER|$param [UNIT]` starting at `start`."""
    it = tokens(text, start)
    first = next(it)
    if first.kind not in ("number", "param"):
        raise ValueError(f"expected a number at offset {start}, found {first.text!r}")
    nxt = next(it, None)
    if nxt is not None and nxt.kind == "word" and nxt.text in UNITS:
        return first.start, nxt.end, nxt.text
    return first.start, first.end, None


def token_span(text: str, start: int) -> tuple[int, int]:
    tok = next(tokens(text, start))
    return tok.start, tok.end


def group_end(text: str, start: int) -> int:
    """End offset of the bracketed group `(...)` or `{...}` opening at or after `start`."""
    depth = 0
    for tok in tokens(text, start):
        if tok.text in "({":
            depth += 1
        elif tok.text in ")}":
            depth -= 1
            if depth == 0:
                return tok.end
    raise ValueError("unbalanced brackets")


def item_end(text: str, start: int) -> int:
    """End offset of one subject item (a placement, `depth 3`, `ref "..."`) starting at its keyword."""
    it = tokens(text, start)
    kw = next(it)
    end = kw.end
    rest = list(_take(it, 1))
    if not rest:
        return end
    tok = rest[0]
    if kw.text in ("box2d", "box3d"):
        return group_end(text, tok.start)
    if kw.text == "polygon":
        pos = tok.start
        while True:
            nxt = next(tokens(text, pos), None)
            if nxt is None or nxt.text != "(":
                return end
            end = group_end(text, nxt.start)
            pos = end
    if kw.text == "mesh":
        end = tok.end
        nxt = next(tokens(text, end), None)
        return group_end(text, nxt.start) if nxt is not None and nxt.text == "{" else end
    if tok.kind in ("number", "param"):
        return scalar_span(text, tok.start)[1]
    return tok.end


def _take(it, n):
    for _, tok in zip(range(n), it):
        yield tok


def block_close(text: str, start: int) -> int:
    """Offset of the closing `}` of the block statement (subject, camera) starting at `start`."""
    return group_end(text, start) - 1


def line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def indent_of(text: str, pos: int) -> str:
    s = line_start(text, pos)
    m = re.match(r"[ \t]*", text[s:])
    return m.group(0) if m else ""


def param_value_start(text: str, stmt_start: int) -> int:
    """Offset of the value in `param NAME = value` whose statement starts at `stmt_start`."""
    for tok in tokens(text, stmt_start):
        if tok.text == "=":
            return next(tokens(text, tok.end)).start
    raise ValueError("param statement without '='")
