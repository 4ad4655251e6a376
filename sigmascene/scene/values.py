"""How values given in Python become scene values: the project's error (with the caller's line) instead of
pydantic's, and params that keep their name so a builder can write `$name` into the scene's text.

The grammar builds nodes itself and turns pydantic's errors into located diagnostics; this module is the same
service for the Python API (builders, `Scene(...)`, attribute assignment).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import Diagnostic, SceneValidationError, SourceLoc


def _caller_loc(outside: Path | None = None) -> SourceLoc | None:
    """The user's line that made a bad value: the first frame outside this package (or outside `outside`,
    for a caller one floor up such as `with_params`)."""
    import inspect

    here = str(outside or Path(__file__).resolve().parent)
    frame = inspect.currentframe()
    while frame is not None:
        file = frame.f_code.co_filename
        if not str(Path(file).resolve()).startswith(here) and "pydantic" not in file:
            if not Path(file).is_file():
                return None
            import linecache

            text = linecache.getline(file, frame.f_lineno)
            return SourceLoc(file, frame.f_lineno, len(text) - len(text.lstrip()) + 1)
        frame = frame.f_back
    return None


def python_error(err: ValidationError, what: str) -> SceneValidationError:
    """pydantic's ValidationError as the project's error: one located diagnostic per problem, and pydantic's own
    list kept in `details`, so Python callers catch one family (SigmaError) for file and value mistakes alike."""
    loc = _caller_loc()
    diags = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        where = f"{what}.{field}" if field else what
        diags.append(Diagnostic(msg if not field and msg.startswith(what) else f"{where}: {msg}", loc))
    return SceneValidationError(diags, details=err.errors(include_context=False))


def build(cls: type, **fields: Any) -> Any:
    """`cls(**fields)` for the Python API: a bad value raises SceneValidationError, not pydantic's error.
    (The grammar builds nodes directly and turns pydantic's errors into located diagnostics itself.)"""
    try:
        node = cls(**fields)
    except ValidationError as err:
        raise python_error(err, cls.__name__.lower()) from None
    remember_params(node, fields)
    return node


class ParamRef(float):
    """A `param`'s value that remembers the param's name: a builder given it writes `$name` into the scene's
    text, so `sigmascene.with_params(scene, name=...)` (and `--set` on the printed file) moves what it places.

        rug_x = scene.add_param("rug_x", 0.3)
        scene.add_subject("corgi", "refs/corgi.png", box3d(center=(rug_x, 0.25, 1.0), size=(0.8, 0.5, 0.5)))
    """

    name: str

    def __new__(cls, name: str, value: float) -> "ParamRef":
        obj = super().__new__(cls, value)
        obj.name = name
        return obj

    def __repr__(self) -> str:
        return f"${self.name}={float(self)!r}"


def remember_params(node: Any, fields: dict[str, Any]) -> None:
    """Record `$name` as the written form of every field (or vector component) given as a ParamRef."""
    for key, value in fields.items():
        items = enumerate(value) if isinstance(value, (tuple, list)) else [(None, value)]
        for i, v in items:
            if isinstance(v, ParamRef):
                node._src[key if i is None else f"{key}.{i}"] = (f"${v.name}", float(v))
