"""`param NAME = value` and `$NAME`: every param resolved once, iteratively, in time linear in the chain.

A param may name another (`param b = $a`), so resolution follows chains. Done recursively and per use, a
1,000-long chain overflowed Python's stack and 900 params took seconds; here each param is resolved once, by
walking its chain with an explicit stack, and every use reads the memo. Each problem is reported once, where
it is written.
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping, cast

from ..errors import SigmaError, SourceLoc, did_you_mean
from .parser import ParamStmt, Scalar, Text, parse_value

Resolved = tuple[float | str, str | None]  # value, unit (None for strings and plain numbers)
_FAILED = object()


class ParamTable:
    def __init__(self, error: Callable[..., None]):
        self.error = error
        self.stmts: dict[str, ParamStmt] = {}
        self.raws: dict[str, Scalar | Text] = {}
        self.memo: dict[str, object] = {}  # name -> Resolved, or _FAILED once its error is reported

    def declare(self, st: ParamStmt) -> None:
        if st.name in self.stmts:
            self.error(f"param '{st.name}' is defined twice", st.name_loc,
                       related=[("first defined here", self.stmts[st.name].loc)])
            return
        self.stmts[st.name], self.raws[st.name] = st, st.value

    def raw(self, name: str) -> Scalar | Text:
        return self.raws[name]

    def apply_overrides(self, overrides: Mapping[str, str]) -> None:
        for name, text in overrides.items():
            if name not in self.stmts:
                hint = did_you_mean(name, self.stmts) or (
                    f"params here: {', '.join(self.stmts)}" if self.stmts else "declare it with `param NAME = value`")
                self.error(f"--set {name}={text}: the scene has no `param {name}`", None, hint)
                continue
            try:
                self.raws[name] = parse_value(text)
            except SigmaError as err:
                for d in err.diagnostics:
                    self.error(d.message, d.loc, d.hint)

    def resolved(self) -> Iterator[tuple[ParamStmt, float | str, str | None]]:
        """Every declared param that resolves, in declaration order."""
        for name, st in self.stmts.items():
            r = self._resolve(name)
            if r is not _FAILED:
                value, unit = cast(Resolved, r)
                yield st, value, unit

    def lookup(self, name: str, loc: SourceLoc) -> Resolved | None:
        """A `$name` used at `loc`; None when it cannot be resolved (the reason is reported once)."""
        if name not in self.stmts:
            self.error(f"unknown param ${name}", loc,
                       did_you_mean(name, self.stmts) or "declare it with `param NAME = value`")
            return None
        r = self._resolve(name)
        return None if r is _FAILED else cast(Resolved, r)

    def _resolve(self, name: str) -> object:
        if name in self.memo:
            return self.memo[name]
        chain: list[str] = []  # params whose value is a $reference, followed from `name`
        on_chain: set[str] = set()
        cur = name
        result: object
        while True:
            if cur in self.memo:
                result = self.memo[cur]
                break
            if cur in on_chain:
                start = chain.index(cur)
                cycle = chain[start:] + [cur]
                self.error(f"params refer to each other in a cycle: {' -> '.join('$' + c for c in cycle)}",
                           self.raws[chain[-1]].loc)
                result = _FAILED
                break
            raw = self.raws[cur]
            if raw.param is None:
                result = (raw.value, None) if isinstance(raw, Text) else (raw.number, raw.unit)
                self.memo[cur] = result
                break
            chain.append(cur)
            on_chain.add(cur)
            if raw.param not in self.stmts:
                self.error(f"unknown param ${raw.param}", raw.loc,
                           did_you_mean(raw.param, self.stmts) or "declare it with `param NAME = value`")
                result = _FAILED
                break
            cur = raw.param
        # Unwind: each param on the chain takes the value below it, adding its own unit.
        for link in reversed(chain):
            if result is not _FAILED:
                raw = self.raws[link]
                value, unit = cast(Resolved, result)  # not _FAILED
                if isinstance(raw, Scalar) and raw.unit and unit:
                    self.error(f"${raw.param} already carries the unit {unit}", raw.loc)
                    result = _FAILED
                elif isinstance(raw, Scalar):
                    result = (value, raw.unit or unit)
            self.memo[link] = result
        return result
