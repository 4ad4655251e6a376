"""What each request may carry: the body read within a size and nesting limit, then checked by a pydantic model.

Why a model per route: a handler that trusts `data["x0"]` to be a number answers 500 the first time a script
sends a string, a list, `Infinity` or a 400-digit integer. Each model here names the field a bad value sat in
(`placement.x0: ...`), and the handlers only ever see values of the types they expect. Unknown keys are ignored,
so a newer page talking to an older server still works for what both know.

The body is never read whole before its size is known: a declared Content-Length over the limit is refused
before any byte is read (413), and a body without one stops being read at the limit. JSON nested deeper than
MAX_DEPTH is refused (400) rather than recursed into; JSON's non-standard NaN/Infinity reach the model, which
refuses them at their field (every number field is finite).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, StrictInt, ValidationError, field_validator
from starlette.requests import Request

from ..errors import SigmaError
from ..scene import KINDS

MAX_SOURCE = 2_000_000  # characters of scene text the editor accepts in one PUT
MAX_JSON_BODY = 4 * MAX_SOURCE  # bytes: a 2M-character source, escaped, fits
MAX_DEPTH = 32  # nesting of arrays/objects; the deepest real body is 4


class BodyTooLarge(SigmaError):
    """A body over the route's limit (answered 413)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


Num = FiniteFloat
Int = Annotated[int, Field(ge=-(2**53), le=2**53)]
Vec3 = tuple[Num, Num, Num]
Text = Annotated[str, Field(max_length=100_000)]
Name = Annotated[str, Field(max_length=1_000)]


class SourceBody(Strict):
    source: Annotated[str, Field(max_length=MAX_SOURCE)]
    coalesce: Name | None = None


class CameraChange(Strict):
    position: Vec3 | None = None
    look_at: Vec3 | None = None
    fov: Num | None = None


class CanvasChange(Strict):
    width: Int | None = None
    height: Int | None = None


class SceneChange(Strict):
    camera: CameraChange | None = None
    canvas: CanvasChange | None = None
    prompt: Text | None = None
    compose: Text | None = None
    params: dict[Name, Num | Text] | None = None
    coalesce: Name | None = None


class PlacementChange(Strict):
    x0: Num | None = None
    y0: Num | None = None
    x1: Num | None = None
    y1: Num | None = None
    points: Annotated[list[tuple[Num, Num]], Field(max_length=256)] | None = None
    center: Vec3 | None = None
    size: Vec3 | None = None
    position: Vec3 | None = None
    yaw: Num | None = None
    pitch: Num | None = None
    roll: Num | None = None
    scale: Num | None = None
    path: Name | None = None

    def fields(self) -> dict[str, Any]:
        """Only what the request named, as plain values (tuples as lists, like JSON gave them)."""
        return {k: v for k, v in self.model_dump().items() if k in self.model_fields_set and v is not None}


class MaskTransform(Strict):
    dx: Num = 0.0
    dy: Num = 0.0
    scale: Num = 1.0
    origin: tuple[Num, Num] | None = None


class SubjectChange(Strict):
    kind: Name | None = None  # a placement kind's keyword (the registry's, checked below)
    bbox: tuple[Num, Num, Num, Num] | None = None
    mask_transform: MaskTransform | None = None
    placement: PlacementChange | None = None
    depth: Num | None = None  # present and null: remove the subject's depth (see `named`)
    caption: Text | None = None
    ref: Name | None = None
    name: Name | None = None
    coalesce: Name | None = None

    @field_validator("kind")
    @classmethod
    def _a_kind(cls, v: str | None) -> str | None:
        if v is not None and v not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(sorted(KINDS))}, got {v!r}")
        return v

    def named(self, key: str) -> bool:
        return key in self.model_fields_set


class ReorderBody(Strict):
    index: Int


class SaveBody(Strict):
    force: bool = False


class RenderBody(Strict):
    steps: Annotated[int, Field(ge=1, le=1000)] | None = None
    seed: StrictInt | None = None  # a JSON whole number; its range is the language's rule, checked by the resolver
    method: Annotated[str, Field(max_length=64)] | None = None  # sigma | iterative | collage (None: the default)
    device: Annotated[str, Field(max_length=64)] = "auto"


M = TypeVar("M", bound=BaseModel)


async def read_bytes(request: Request, limit: int) -> bytes:
    """The body, refused on its declared length before reading and cut off at `limit` while reading."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise SigmaError("Content-Length must be a whole number of bytes")
        if int(declared) > limit:
            raise BodyTooLarge(f"the request body is {int(declared) / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the request body is over the {limit / 1e6:.0f} MB limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _depth_ok(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            if d > MAX_DEPTH:
                return False
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return True


def parse_json(raw: bytes) -> Any:
    """JSON nested at most MAX_DEPTH deep, or a SigmaError. `NaN`, `Infinity` and `1e999` are read as floats so
    that the route's model refuses them *at their field* (`canvas.width: Input should be a finite number`)."""
    try:  # the C decoder counts its own recursion: `[` x 100,000 is a RecursionError, not a crash
        data = json.loads(raw)
    except RecursionError:
        raise SigmaError(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise SigmaError(f"the request body is not JSON: {err}") from None
    if not _depth_ok(data):
        raise SigmaError(f"the request body nests deeper than {MAX_DEPTH} levels")
    return data


def validate(model: type[M], data: Any) -> M:
    """`data` as `model`, or a SigmaError naming the first fields that are wrong and what they should be."""
    if not isinstance(data, dict):
        got = "null" if data is None else type(data).__name__
        raise SigmaError(f"the request body must be a JSON object, got {got}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors()[:5]:
            where = ".".join(str(p) for p in e["loc"]) or "body"
            problems.append(f"{where}: {e['msg']}")
        raise SigmaError("bad request: " + "; ".join(problems)) from None


async def read_model(request: Request, model: type[M], *, optional: bool = False) -> M:
    """Read, parse and check a JSON body; an empty body is `model()` when `optional`."""
    raw = await read_bytes(request, MAX_JSON_BODY)
    if optional and not raw.strip():
        return model()
    return validate(model, parse_json(raw))
