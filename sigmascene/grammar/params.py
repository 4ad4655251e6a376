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


#: How a value given from outside the file is named in its errors: `--set rug_x` on the command line;
#: `with_params` passes its own label.
SET_LABEL = "--set {name}"


class ParamTable:
    def __init__(self, error: Callable[..., None], bad_value: Callable[[str, str | None], None] | None = None,
                 label: str = SET_LABEL):
        """`bad_value(message, hint)` reports a mistake in an override (a SceneValidationError: the value, not
        the file, is wrong); `label` names where overrides come from."""
        self.error = error
        self.bad_value = bad_value or (lambda msg, hint: error(msg, None, hint))
        self.label = label
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
        """Each override replaces its param's value; a mistake is named after the override (`--set rug_x: ...`),
        never located in a made-up file, and the rest of the scene is still checked."""
        for name, text in overrides.items():
            where = self.label.format(name=name)
            if name not in self.stmts:
                hint = did_you_mean(name, self.stmts) or (
                    f"params here: {', '.join(self.stmts)}" if self.stmts else "declare it with `param NAME = value`")
                self.bad_value(f"{where}: the scene has no `param {name}`", hint)
                continue
            try:
                value = parse_value(text)
            except SigmaError:
                self.bad_value(f"{where}: {text!r} is not a value: expected a number (0.4, 30 deg, 120 px) or a "
                               f'"string"', 'text goes in double quotes, e.g. "corgi"')
                continue
            declared = self.raws[name]
            if declared.param is None and isinstance(declared, Text) != isinstance(value, Text):
                want = "a \"string\"" if isinstance(declared, Text) else "a number"
                self.bad_value(f"{where}: expected {want} like the param's own value {declared.text}, got {text}",
                               None)
                continue
            self.raws[name] = value

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
