"""The placement-kind registry: every module in this folder but `base` is one kind (see base.py), found by
listing the folder, so adding a kind is adding its module (and its statement in grammar/sigma.lark).

`KINDS` maps each keyword to its kind; `Placement` is the pydantic union of their nodes, told apart by `kind`."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from .base import PlacementKind, PlacementNode


def _discover() -> dict[str, PlacementKind]:
    kinds: dict[str, PlacementKind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base" or info.name.startswith("_"):
            continue
        kind = importlib.import_module(f"{__name__}.{info.name}").Kind()
        if kind.keyword != info.name or kind.node.model_fields["kind"].default != kind.keyword:
            raise ImportError(f"placement kind module {info.name}.py must define the kind {info.name!r} "
                              f"(keyword and node `kind` both)")
        kinds[kind.keyword] = kind
    return kinds


KINDS: dict[str, PlacementKind] = _discover()
PLACEMENT_KINDS = tuple(KINDS)
NODES: dict[str, type[PlacementNode]] = {k.node.__name__: k.node for k in KINDS.values()}  # Box2D, ... by class name
BUILDERS: dict[str, Any] = {k.keyword: k.build for k in KINDS.values()}  # box2d(), ... by keyword

if TYPE_CHECKING:
    Placement = PlacementNode
else:
    Placement = Annotated[Union[tuple(k.node for k in KINDS.values())], Field(discriminator="kind")]


def kind_of(node: PlacementNode) -> PlacementKind:
    """The kind of a placement node."""
    return KINDS[node.kind]


__all__ = ["BUILDERS", "KINDS", "NODES", "PLACEMENT_KINDS", "Placement", "PlacementKind", "PlacementNode", "kind_of"]
