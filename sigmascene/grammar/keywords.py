"""What sigma.lark defines, read from the grammar itself so no keyword list is typed twice: the statements, the
items each block takes, the units. The parser (parser.py) and syntax-error recovery (recovery.py) both ask here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from lark import Lark

GRAMMAR = Path(__file__).with_name("sigma.lark")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", propagate_positions=True,
                start=["start", "value"], maybe_placeholders=False)


def _keyword(term: str) -> str | None:
    pattern = _lark().get_terminal(term).pattern
    return pattern.value if pattern.type == "str" and pattern.value.isidentifier() else None


def _first_keyword(rule_name: str) -> str:
    """The keyword a rule starts with (`version` -> "sigma")."""
    for r in _lark().rules:
        if (r.alias or r.origin.name) == rule_name and r.expansion and r.expansion[0].is_term:
            kw = _keyword(r.expansion[0].name)
            if kw is not None:
                return kw
    raise KeyError(rule_name)


@lru_cache(maxsize=1)
def grammar_units() -> tuple[str, ...]:
    """The units the grammar's UNIT terminal accepts (deg, rad, px, cm, m)."""
    return tuple(re.findall(r"[A-Za-z]+", _lark().get_terminal("UNIT").pattern.value))


@lru_cache(maxsize=1)
def grammar_words() -> tuple[dict[str, str], dict[str, str], tuple[str, ...]]:
    """What sigma.lark defines, read from the grammar itself so no list is typed twice: ({statement keyword:
    rule}, {subject item keyword: rule}, every keyword). The rules are in the grammar's order."""
    rules = _lark().rules
    stmts = [r.expansion[0].name for r in rules if r.origin.name == "stmt"]
    statements = {_first_keyword(name): name for name in stmts}
    items = {_first_keyword(r.alias): r.alias for r in rules if r.origin.name == "subject_item" and r.alias}
    words = [kw for t in _lark().terminals if (kw := _keyword(t.name)) is not None]
    ordered = list(statements) + [w for w in items if w not in statements]
    return statements, items, tuple(ordered + [w for w in words if w not in ordered])


@lru_cache(maxsize=1)
def block_items() -> dict[str, frozenset[str]]:
    """{block: the keywords that start an item in it}, from the grammar's `<block>_item` rules (subject, camera,
    and the placement blocks); an alternative that is another rule (`rotation`) brings that rule's keywords."""
    rules = _lark().rules

    def firsts(name: str) -> set[str]:
        out: set[str] = set()
        for r in rules:
            if r.origin.name == name and r.expansion:
                sym = r.expansion[0]
                kw = _keyword(sym.name) if sym.is_term else None
                out |= {kw} if kw else (set() if sym.is_term else firsts(sym.name))
        return out

    names = {r.origin.name for r in rules if r.origin.name.endswith("_item")}
    return {name.removesuffix("_item"): frozenset(firsts(name)) for name in names}
