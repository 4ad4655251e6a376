"""The base of every Scene IR node and the ranges its numbers must keep.

Metadata — source location, how each value was spelt, comments — rides on the node outside equality, so `fmt`
prints a file back as written while two scenes stay equal when they mean the same picture. A module of its own
so the placement nodes (scene/kinds/) and the scene (scene/ir.py) build on it without importing each other.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ..errors import SourceLoc
from .values import python_error, remember_params

# Documented ranges (docs/language.md, "Limits"): wide enough for any real scene, narrow enough that inverse
# depth, projection and rendering stay finite and exact in float32.
MIN_DEPTH, MAX_DEPTH = 1e-3, 1e5  # metres
MAX_COORD = 1e5  # metres from the origin, for positions and centres
MIN_SIZE = 1e-3  # metres, the smallest box side
MAX_SIZE = 2 * MAX_COORD  # metres, the longest box side: the one source for the limit (docs/language.md, Limits)
MIN_SCALE, MAX_SCALE = 1e-6, 1e6  # mesh scale factor (mesh units are the file's own)

Coord = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_COORD, le=MAX_COORD)]
Vec3 = tuple[Coord, Coord, Coord]
Side = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_SIZE, le=MAX_SIZE)]  # sign checked by positive_size
Size3 = tuple[Side, Side, Side]
Angle = Annotated[float, Field(allow_inf_nan=False, ge=-3600, le=3600)]


class Node(BaseModel):
    """Base of every IR node: carries where it came from and how it was spelt, outside equality."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    # The dicts below are `default={}`, which pydantic gives each node as a fresh copy: `default_factory=dict`
    # means the same, but pydantic inspects the factory's signature on every node it builds (a third of a parse).
    _loc: SourceLoc | None = PrivateAttr(default=None)
    # field path -> (text as written, value it meant then); the printer reuses the text while the value holds.
    _src: dict[str, tuple[str, Any]] = PrivateAttr(default={})
    # statement key ("" = the node itself) -> [comment lines before it, comment at the end of its line]
    _comments: dict[str, list] = PrivateAttr(default={})
    _locs: dict[str, SourceLoc] = PrivateAttr(default={})
    # field path -> (start, end) character offsets of its text in its file ("" = the node's whole statement,
    # "item:<field>" = a subject item's statement): where the editor changes text, without tokenizing it again.
    _spans: dict[str, tuple[int, int]] = PrivateAttr(default={})

    @property
    def loc(self) -> SourceLoc | None:
        return self._loc

    def field_loc(self, name: str) -> SourceLoc | None:
        """Location of one field's value when it came from text, else the node's own location."""
        return self._locs.get(name, self._loc)

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # equal by value and mutable, so unhashable (as pydantic's own)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            return super().__setattr__(name, value)
        try:
            super().__setattr__(name, value)
        except ValidationError as err:
            raise python_error(err, type(self).__name__.lower()) from None
        remember_params(self, {name: value})
