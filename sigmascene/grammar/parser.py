"""Text -> located statements, the syntax layer. Lark parses one file's text into typed statement records
(`SubjectStmt`, `ParamStmt`, ...); `lower` turns those into the pydantic Scene and the package's `parse_text`
joins the two — this module knows nothing of Scenes, files or includes.

Every Lark exception is converted here into a SigmaError with file:line:col and a did-you-mean hint, so no input
— however broken — reaches the user as a traceback.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Callable, cast

from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import Diagnostic, SigmaError, SigmaSyntaxError, SourceLoc, did_you_mean, remember_source
from ..scene.kinds import KINDS
# The located pieces live in statements.py; re-exported here, where lowering and the file checks import them.
from .statements import (BlockStmt, CanvasStmt, ParamStmt, ParsedFile, PlacementStmt,  # noqa: F401 - re-exported
                         RelationStmt, Scalar, Span, Stmt, SubjectStmt, Text, Value, ValueStmt, Vec)
from . import recovery
from .keywords import GRAMMAR, _keyword, _lark, grammar_units, grammar_words  # noqa: F401 - re-exported

# Bounds that keep a hostile file an error rather than a slow or huge parse (docs/language.md, "Limits"); a
# placement kind bounds its own statement in its lowering (scene/kinds/).
MAX_VEC_ITEMS = 16

_TOKEN_WORDS = {"LBRACE": "'{'", "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'", "COMMA": "','", "EQUAL": "'='",
                "NUMBER": "a number", "STRING": "a \"string\"", "NAME": "a name", "PARAM_REF": "a $param",
                "UNIT": "a unit (deg, rad, px, m, cm)", "$END": "end of file"}


# Comments are lifted out before Lark sees the text (a string may hold '#', so strings are matched too) and
# blanked with spaces: columns stay, and a file of 100,000 comment lines is one whitespace token, not 200,000.
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


def _lift_comments(text: str) -> tuple[str, list[Token]]:
    """(text with every comment blanked, the comments as located tokens)."""
    comments: list[Token] = []
    pieces: list[str] = []
    last, line, line_start, counted = 0, 1, 0, 0
    for m in _STRING_OR_COMMENT.finditer(text):
        if m.group()[0] != "#":
            continue
        start = m.start()
        nl = text.count("\n", counted, start)
        if nl:
            line += nl
            line_start = text.rfind("\n", counted, start) + 1
        counted = start
        comments.append(Token("COMMENT", m.group(), start, line, start - line_start + 1))
        pieces += [text[last:start], " " * (m.end() - start)]
        last = m.end()
    if not comments:
        return text, comments
    pieces.append(text[last:])
    return "".join(pieces), comments


def _span(meta_or_tok: Any) -> Span:
    return (int(meta_or_tok.start_pos), int(meta_or_tok.end_pos))


class _Build(Transformer):
    """One method per grammar rule (tests/lang/test_grammar_source.py checks that none is missing). Placement
    rules (`s_<kind>`) share `_placement`, attached below for every kind in the registry."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file

    def _loc(self, meta_or_tok: Any) -> SourceLoc:
        return SourceLoc(self.file, meta_or_tok.line, meta_or_tok.column)

    def _head(self, data: str, meta: Any) -> tuple[str, SourceLoc, tuple[int, int], Span]:
        return data, self._loc(meta), (meta.end_line, meta.end_column), _span(meta)

    def __default__(self, data: str, children: list, meta: Any) -> Any:
        raise TypeError(f"grammar rule {data!r} has no method in grammar/parser.py's _Build")

    # -- values ---------------------------------------------------------------------------------------------
    def start(self, meta: Any, children: list) -> list:
        return children

    value = start  # `--set` values: parse_value takes the one child

    def scalar(self, meta: Any, children: list[Token]) -> Scalar:
        tok, unit = children[0], (str(children[1]) if len(children) > 1 else None)
        text = str(tok) + (f" {unit}" if unit else "")
        unit_loc = self._loc(children[1]) if unit else None
        span = (_span(tok)[0], _span(children[-1])[1])
        if tok.type == "PARAM_REF":
            return Scalar(None, str(tok)[1:], unit, text, self._loc(tok), unit_loc, span)
        return Scalar(float(tok), None, unit, text, self._loc(tok), unit_loc, span)

    def text(self, meta: Any, children: list[Token]) -> Text:
        tok = children[0]
        if tok.type == "PARAM_REF":
            return Text(None, str(tok)[1:], str(tok), self._loc(tok), _span(tok))
        return Text(_decode_string(tok, self.file), None, str(tok), self._loc(tok), _span(tok))

    text_value = text

    def vec(self, meta: Any, children: list[Scalar]) -> Vec:
        if len(children) > MAX_VEC_ITEMS:
            raise SigmaError(f"a (...) group holds at most {MAX_VEC_ITEMS} numbers, this one {len(children)}",
                             self._loc(meta))
        return Vec(children, self._loc(meta), _span(meta))

    # -- statements -----------------------------------------------------------------------------------------
    def _value_stmt(self, data: str, meta: Any, children: list) -> ValueStmt:
        return ValueStmt(*self._head(data, meta), [c for c in children if not isinstance(c, Token)][0])

    def subject(self, meta: Any, children: list) -> SubjectStmt:
        name = children[0]
        return SubjectStmt(*self._head("subject", meta), str(name), self._loc(name), _span(name),
                           [c for c in children if isinstance(c, Stmt)])

    def param(self, meta: Any, children: list) -> ParamStmt:
        name = children[0]
        return ParamStmt(*self._head("param", meta), str(name), self._loc(name), children[-1])

    def canvas(self, meta: Any, children: list) -> CanvasStmt:
        return CanvasStmt(*self._head("canvas", meta), children[0], children[1])

    def camera(self, meta: Any, children: list) -> BlockStmt:
        return BlockStmt(*self._head("camera", meta), [c for c in children if isinstance(c, Stmt)])

    def _relation(self, data: str, meta: Any, children: list) -> RelationStmt:
        target = children[0]
        return RelationStmt(*self._head(data, meta), str(target), self._loc(target), _span(target))

    def _placement(self, data: str, meta: Any, children: list) -> PlacementStmt:
        return PlacementStmt(*self._head(data, meta), [c for c in children if not isinstance(c, (Stmt, Token))],
                             [c for c in children if isinstance(c, Stmt)])


def _rule_method(builder: Any, data: str) -> Any:
    def method(self: _Build, meta: Any, children: list) -> Any:
        return builder(self, data, meta, children)

    method.__name__ = data
    return method


def _attach_rule_methods() -> None:
    """Give every grammar rule without a method of its own the builder its shape calls for: a placement rule
    (`s_<kind>` of a registered kind) the placement builder, `KEYWORD NAME` a relation, `KEYWORD value` a value
    statement — so a statement added to sigma.lark in one of these shapes needs no edit here."""
    for r in _lark().rules:
        name = r.alias or r.origin.name
        if name.startswith("_") or hasattr(_Build, name) or r.options.expand1 and not r.alias:
            continue
        shape = [sym.name if not sym.is_term or _keyword(sym.name) is None else "KEYWORD" for sym in r.expansion]
        builder: Callable[..., Stmt]
        if name.startswith("s_") and name[2:] in KINDS:
            builder = _Build._placement
        elif shape == ["KEYWORD", "NAME"]:
            builder = _Build._relation
        elif len(shape) == 2 and shape[0] == "KEYWORD" and shape[1] in ("scalar", "text", "vec"):
            builder = _Build._value_stmt
        else:
            continue  # __default__ names the rule that still needs a method
        setattr(_Build, name, _rule_method(builder, name))


@lru_cache(maxsize=1)
def _builder_class() -> type[_Build]:
    """_Build with every rule's method, made on first use (reading the grammar builds the parser, which
    `sigmascene --help` never needs)."""
    _attach_rule_methods()
    return cast("type[_Build]", v_args(meta=True)(_Build))


def _decode_string(tok: Token, file: str) -> str:
    try:
        return json.loads(str(tok))
    except ValueError:
        raise SigmaSyntaxError(f"bad escape in string {tok}", SourceLoc(file, tok.line or 0, tok.column or 0),
                         'strings allow \\" \\\\ \\n \\t and \\uXXXX escapes') from None


def parse_source(text: str, file: str, *, quote: bool = True) -> ParsedFile:
    """Parse one file's text into located statements (no includes followed, no meaning checked).
    quote=False: diagnostics never print this text (it is not a `.sigma` file).

    A syntax error does not stop the parse: it is kept in `errors`, the broken statement is skipped (see
    recovery.py) and the rest is parsed, so one run reports every mistake. Callers raise `errors` (lowering does).
    """
    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark some editors write is not part of the scene
    remember_source(file, text, quote=quote)
    blank, comments = _lift_comments(text)
    errors: list[Diagnostic] = []
    broken = recovery.Broken()
    resumed_at = -1
    cut: list[tuple[int, int]] = []
    tries = recovery.MAX_RECOVERIES if len(text) < recovery.BIG_TEXT else 3
    for _ in range(tries):
        try:
            stmts = _builder_class()(file).transform(_lark().parse(blank, start="start"))
            break
        except UnexpectedInput as err:
            pos, at_end = _error_pos(err, blank)
            if pos != resumed_at:  # at the point the last recovery resumed: its consequence, not a new mistake
                errors.append(_syntax_error(err, text, file))
        except VisitError as err:
            if not isinstance(err.orig_exc, SigmaError):
                raise
            diag = err.orig_exc.diagnostics[0]
            pos, at_end = _offset(blank, diag.loc), False
            errors += err.orig_exc.diagnostics
        start, resumed_at = recovery.resync(blank, pos, at_end, broken)
        blank = recovery.blank(blank, start, resumed_at)
        cut.append((start, resumed_at))
    else:
        errors.append(recovery.cap_note(len(errors)))
        stmts = []
    pf = ParsedFile(file, stmts, comments, errors)
    for name, at in broken.names.items():
        pf.broken[name] = _loc_at(text, at, file)
    pf.cut = [(_line_col(text, s), _line_col(text, e)) for s, e in cut]
    broken_at = {(loc.line, loc.column) for loc in pf.broken.values()}
    for st in stmts:
        if isinstance(st, SubjectStmt) and (st.loc.line, st.loc.column) in broken_at:
            st.broken = True
    return pf


def _error_pos(err: UnexpectedInput, text: str) -> tuple[int, bool]:
    """(offset, at end of file) of a Lark error. Lark's end-of-input token borrows the last token's position."""
    if isinstance(err, UnexpectedToken):
        if err.token.type == "$END":
            return len(text), True
        return int(err.token.start_pos or 0), False
    if isinstance(err, UnexpectedEOF):
        return len(text), True
    return int(getattr(err, "pos_in_stream", 0) or 0), False


def _offset(text: str, loc: SourceLoc | None) -> int:
    if loc is None:
        return 0
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    return min(len(text), starts[min(loc.line, len(starts)) - 1] + loc.column - 1)


def _line_col(text: str, pos: int) -> tuple[int, int]:
    return text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _loc_at(text: str, pos: int, file: str) -> SourceLoc:
    return SourceLoc(file, *_line_col(text, pos))


def raise_errors(pf: ParsedFile) -> ParsedFile:
    """`pf`, or its syntax errors raised: for callers that cannot use a partly parsed file."""
    if pf.errors:
        raise SigmaSyntaxError(pf.errors)
    return pf


def parse_value(text: str) -> Scalar | Text:
    """Parse a `--set NAME=VALUE` value with the language's own rules for numbers, units and strings."""
    file = "<--set>"
    remember_source(file, text)
    try:
        tree = _lark().parse(text, start="value")
        val = _builder_class()(file).transform(tree)
        val = val[0] if isinstance(val, list) else val
    except UnexpectedInput as err:
        raise SigmaSyntaxError(_syntax_error(err, text, file)) from None
    except VisitError as err:
        if isinstance(err.orig_exc, SigmaError):
            raise err.orig_exc from None
        raise
    return val


def _syntax_error(err: UnexpectedInput, text: str, file: str) -> Diagnostic:
    line, col = getattr(err, "line", 1) or 1, getattr(err, "column", 1) or 1
    at_end = isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END")
    if line < 1 or at_end:
        lines = text.split("\n")  # lines are counted at "\n" only, as Lark counts them (errors.source_line too)
        if len(lines) > 1 and lines[-1] == "":
            lines.pop()
        line, col = len(lines), len(lines[-1].rstrip("\r")) + 1
    loc = SourceLoc(file, line, col)
    expected = sorted(_acceptable(err))
    words = [_word(e) for e in expected]
    keywords = [w.strip("'") for w in words if w.startswith("'") and w.strip("'").isidentifier()]
    if isinstance(err, UnexpectedCharacters):
        pos = cast(int, err.pos_in_stream)  # lark types it None on the base class; this error sets the offset
        word = _word_at(text, pos)
        found = f"'{word}'" if word else f"character {text[pos]!r}"
    elif at_end:
        return Diagnostic("unexpected end of file" + (f", expected {_one_of(words)}" if words else ""), loc,
                          "a `{` may be missing its `}`" if "'}'" in words else None)
    else:
        word = str(err.token) if isinstance(err, (UnexpectedToken, UnexpectedEOF)) else ""
        found = f"'{word}'"
    hint = did_you_mean(word, keywords) if word and keywords else None
    if hint is None and word and _TOKEN_WORDS["STRING"] in words and not word.startswith("$"):
        hint = f'file names and text go in double quotes: "{word}"'
    statements = grammar_words()[0]
    if word in statements and "'}'" in words:
        hint = hint or "the block above may be missing its closing `}`"
    if word and word.startswith("$"):
        hint = hint or "a $param can stand where a number or string is expected"
    what = "unknown statement" if keywords and set(keywords) & set(statements) and word.isidentifier() else "unexpected"
    msg = f"{what} {found}" + (f", expected {_one_of(words)}" if words else "")
    return Diagnostic(msg, loc, hint)


def _acceptable(err: UnexpectedInput) -> set[str]:
    """Terminals the parser would really accept where it stopped. The error's own set is the LALR state's
    lookaheads (widened by state merging and the contextual lexer), so each candidate is tried on a copy."""
    ip = getattr(err, "interactive_parser", None)
    if ip is not None:
        try:
            return set(ip.accepts())
        except Exception:  # noqa: BLE001 - a best-effort refinement of a message, never worth a traceback
            pass
    return set(getattr(err, "expected", None) or getattr(err, "allowed", None) or [])


def _word(term: str) -> str:
    if term in _TOKEN_WORDS:
        return _TOKEN_WORDS[term]
    try:
        pattern = _lark().get_terminal(term).pattern
        if pattern.type == "str":
            return f"'{pattern.value}'"
    except KeyError:
        pass
    return term.lower()


def _one_of(words: list[str]) -> str:
    words = sorted(set(words))
    if len(words) > 12:
        words = words[:12] + ["..."]
    return words[0] if len(words) == 1 else "one of " + ", ".join(words)


def _word_at(text: str, pos: int) -> str:
    end = pos
    while end < len(text) and (text[end].isalnum() or text[end] in "_$"):
        end += 1
    return text[pos:end]
