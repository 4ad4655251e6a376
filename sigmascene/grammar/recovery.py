"""Syntax-error recovery for the parse driver: report a syntax error, skip the broken statement, parse on.

A compiler people like (rustc, TypeScript, clang) shows every problem of a file in one run; a parser that stops at
the first syntax error made `check` need one run per mistake. Recovery here works on the text, not on Lark's
parser state: the broken statement (or block item) is blanked with spaces — lines and columns of everything else
stay where they were — and the file is parsed again. Where the parse resumes:

- a junk token: skipped up to the next statement (at the top level) or the next item or closing brace (in a block);
- a statement keyword where the statement before was incomplete (`canvas 512 x` then `camera`): that incomplete
  statement is dropped and the keyword starts the next one;
- a statement keyword inside a block (a `}` is missing) or the end of the file inside one: the unclosed block.

An error found at the point where the last recovery resumed is a consequence of that recovery, not a new mistake,
so it is not reported. Subjects whose text was touched are reported back as `broken`, so that lowering can keep
their names out of "unknown subject" errors (a cascade) while still checking what parsed of them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass, field

from ..errors import Diagnostic
from .keywords import block_items, grammar_words


@lru_cache(maxsize=1)
def _statements() -> frozenset[str]:
    """The words that start a statement, read from sigma.lark (keywords.py)."""
    return frozenset(grammar_words()[0])


def _items() -> dict[str, frozenset[str]]:
    """The words that start an item inside each kind of block (subject, camera, box3d, mesh), from sigma.lark."""
    return block_items()


_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[A-Za-z_$][A-Za-z0-9_]*|[{}]|[^\s{}"A-Za-z_$]+|"')
MAX_RECOVERIES = 60  # parses of one file; a file of junk is a few dozen errors, not one per token
BIG_TEXT = 1_000_000  # a file this large gets a few recoveries only: each one parses it again


@dataclass
class _Tok:
    text: str
    start: int


@dataclass
class _Block:
    kind: str  # subject, camera, box3d, mesh, or "" for a brace no statement opened
    unit_start: int  # where the statement or item that opened it starts
    subject: tuple[str, int] | None  # the subject (name, keyword position) it belongs to


@dataclass
class Broken:
    """What recovery removed: the subjects it touched, by name and by the position of their `subject` word."""

    names: dict[str, int] = field(default_factory=dict)

    def add(self, subject: tuple[str, int] | None) -> None:
        if subject is not None:
            self.names.setdefault(subject[0], subject[1])


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(m.group(), m.start()) for m in _TOKEN.finditer(text)]


def _subject_at(toks: list[_Tok], i: int) -> tuple[str, int] | None:
    """(name, position) of the subject whose keyword is toks[i], when a name follows it."""
    nxt = toks[i + 1].text if i + 1 < len(toks) else ""
    return (nxt, toks[i].start) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", nxt) else None


def _level_words(stack: list[_Block]) -> frozenset[str]:
    return _items().get(stack[-1].kind, frozenset()) if stack else _statements()


def resync(text: str, pos: int, at_end: bool, broken: Broken) -> tuple[int, int]:
    """The span [start, end) to blank for a syntax error at `pos` (or at the end of the file), recording the
    subject it breaks. Always a non-empty span, so every recovery makes progress."""
    toks = _tokens(text)
    stack: list[_Block] = []
    last_unit: list[int | None] = [None]  # per level: the token index of its last statement / item word
    top_subject: tuple[str, int] | None = None  # the subject the current top-level statement opened, if any
    i = 0
    while i < len(toks) and toks[i].start < pos:
        t = toks[i]
        if t.text == "{":
            unit = last_unit[-1]
            kind = toks[unit].text if unit is not None else ""
            stack.append(_Block(kind if kind in _items() else "", toks[unit].start if unit is not None else t.start,
                                top_subject))
            last_unit.append(None)
        elif t.text == "}":
            if stack:
                stack.pop()
                last_unit.pop()
        elif t.text in _level_words(stack):
            last_unit[-1] = i
            if not stack:
                top_subject = _subject_at(toks, i) if t.text == "subject" else None
        i += 1
    starts = [None if u is None else toks[u].start for u in last_unit]
    here = None if at_end or i >= len(toks) else toks[i]
    subject = stack[0].subject if stack else None
    words = _level_words(stack)

    if here is None:  # end of file: drop the unclosed block, or the incomplete last statement
        start = stack[0].unit_start if stack else (starts[0] if starts[0] is not None else pos)
        broken.add(subject if stack else top_subject)
        return min(start, len(text) - 1 if text else 0), len(text)
    if not stack and here.text == "}":  # a stray closing brace: only it goes
        return here.start, here.start + 1
    if stack and here.text in _statements():  # a `}` is missing: the unclosed block ends here
        broken.add(subject)
        return stack[0].unit_start, here.start
    if here.text in words or here.text == "}":  # the statement or item before this one is incomplete
        prev = starts[-1]
        if prev is not None and prev < here.start:
            broken.add(subject if stack else top_subject)
            return prev, here.start
        if stack:  # nothing to drop at this level: the whole block goes
            broken.add(subject)
            return stack[0].unit_start, _block_end(toks, i, len(stack), text)
        return here.start, here.start + len(here.text)
    # a token that belongs nowhere: skip to the next statement / item / closing brace of this level
    if stack:
        broken.add(subject)
    elif i + 2 < len(toks) and toks[i + 2].text == "{" and _subject_at(toks, i):  # `subjet cat {`: a misspelt
        broken.add(_subject_at(toks, i))  # subject whose name other statements may use
    elif top_subject is not None and starts[0] is not None and _open_header(toks, starts[0], pos):
        broken.add(top_subject)
    return here.start, _next_unit(toks, i, words, bool(stack), text)


def _open_header(toks: list[_Tok], unit: int, pos: int) -> bool:
    """True when the top-level `subject` at `unit` has not closed its block before `pos` (its header is broken)."""
    depth, opened = 0, False
    for t in toks:
        if t.start < unit:
            continue
        if t.start >= pos:
            break
        if t.text == "{":
            depth, opened = depth + 1, True
        elif t.text == "}":
            depth -= 1
    return not opened or depth > 0


def _next_unit(toks: list[_Tok], i: int, words: frozenset[str], in_block: bool, text: str) -> int:
    depth = 0
    for t in toks[i + 1:]:
        if t.text == "{":
            depth += 1
        elif t.text == "}":
            if depth == 0:
                return t.start if in_block else t.start + 1
            depth -= 1
        elif depth == 0 and (t.text in words or t.text in _statements()):
            return t.start
    return len(text)


def _block_end(toks: list[_Tok], i: int, depth: int, text: str) -> int:
    for t in toks[i:]:
        if t.text == "{":
            depth += 1
        elif t.text == "}":
            depth -= 1
            if depth == 0:
                return t.start + 1
        elif t.text in _statements():
            return t.start
    return len(text)


def blank(text: str, start: int, end: int) -> str:
    """`text` with [start, end) replaced by spaces, line ends kept: every other position stays where it was."""
    piece = re.sub(r"[^\n]", " ", text[start:end])
    return text[:start] + piece + text[end:]


def cap_note(n_shown: int) -> Diagnostic:
    return Diagnostic(f"parsing stopped after {n_shown} syntax errors", None, "fix the ones above first",
                      severity="note")
