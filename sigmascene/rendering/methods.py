"""The method table: every method x {plain, insertion into a `background` photo} is one entry, here and nowhere
else. The resolver (plan.py) reads the specs to check a request and to choose the default; the render call
(render.py) looks the entry up by (method, insertion) and calls it with a MethodCall (method.py).

A new method adds its spec and two entries with `register_method` (or a line below)."""

from __future__ import annotations

from ..errors import ConfigError, did_you_mean
from .collage_method import COLLAGE_SPEC, collage_insertion, collage_plain
from .contextgen_method import CONTEXTGEN_SPEC, contextgen_insertion, contextgen_plain
from .method import MethodEntry, MethodSpec
from .sigma_method import (ITERATIVE_SPEC, SIGMA_SPEC, iterative_insertion, iterative_plain, sigma_insertion,
                           sigma_plain)

SPECS: dict[str, MethodSpec] = {}
TABLE: dict[tuple[str, bool], MethodEntry] = {}


def register_method(spec: MethodSpec, plain: MethodEntry, insertion: MethodEntry) -> None:
    """Add (or replace) a method: its rules and its two entries, keyed (name, inserting)."""
    SPECS[spec.name] = spec
    TABLE[(spec.name, False)] = plain
    TABLE[(spec.name, True)] = insertion


register_method(SIGMA_SPEC, sigma_plain, sigma_insertion)
register_method(ITERATIVE_SPEC, iterative_plain, iterative_insertion)
register_method(COLLAGE_SPEC, collage_plain, collage_insertion)
register_method(CONTEXTGEN_SPEC, contextgen_plain, contextgen_insertion)


def method_names() -> list[str]:
    return list(SPECS)


def method_spec(name: str) -> MethodSpec:
    """The spec of a method a user named; a misspelling gets did-you-mean."""
    spec = SPECS.get(name)
    if spec is None:
        raise ConfigError(f"--method {name!r} is not a method; the methods are: {', '.join(SPECS)}",
                          hint=did_you_mean(name, SPECS) or "; ".join(f"{s.name}: {s.summary}"
                                                                     for s in SPECS.values()))
    return spec


def method_entry(name: str, insertion: bool) -> MethodEntry:
    return TABLE[(method_spec(name).name, insertion)]
