"""The `.sigma` language: Lark grammar (sigma.lark), syntax (parser.py: text -> located statements), lowering
(lower.py: statements -> Scene) and canonical printer (printer.py: Scene -> text).

This entry module joins the layers — parser and printer know nothing of each other or of lowering — so the
package's import graph has no circle.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import Diagnostic, SceneValidationError, SigmaError
from ..scene.values import ParamRef, _caller_loc
from .lower import lower
from .parser import parse_source
from .params import SET_LABEL
from .printer import print_scene
from .sources import SCENE_SUFFIX, read_scene_file

if TYPE_CHECKING:
    from ..scene import Scene

__all__ = ["parse_text", "parse_file", "format_file", "loads", "load", "dumps", "print_scene", "with_params"]

Root = str | Path | bool | None


def parse_text(text: str, *, file: str = "<string>", base_dir: str | Path | None = None,
               overrides: Mapping[str, str] | None = None, fragment: bool = False, root: Root = None,
               quote: bool = True, override_label: str = SET_LABEL) -> "Scene":
    """Parse and validate `.sigma` text. `root` confines every file the scene names (include, ref, mask, depth
    map, mesh) to that folder after resolving symlinks; True means `base_dir`. None reads anywhere."""
    base = Path(base_dir) if base_dir is not None else (Path(file).parent if not file.startswith("<") else Path.cwd())
    limit = _root(root, base)
    scene = lower(parse_source(text, file, quote=quote), base_dir=base, overrides=overrides or {},
                  fragment=fragment, root_dir=limit, override_label=override_label)
    if not fragment:
        scene.validate_scene()
    return scene


def parse_file(path: str | PathLike[str], *, overrides: Mapping[str, str] | None = None, fragment: bool = False,
               root: Root = None) -> "Scene":
    """Parse and validate a scene file; relative paths inside it resolve against its folder. With `root`
    (a folder, or True for the file's own folder) the file itself must lie inside it too."""
    path = Path(path)
    limit = _root(root, path.parent)
    if limit is not None:
        from ..core.paths import confine

        confine(path, limit, None, "scene")
    return parse_text(read_scene_file(path), file=str(path), base_dir=path.parent, overrides=overrides,
                      fragment=fragment, root=limit, quote=path.suffix == SCENE_SUFFIX)


def format_file(path: str | Path, *, root: Root = None) -> str:
    """The canonical text of one file, printing its own statements only (included files stay included)."""
    return print_scene(parse_file(path, fragment=True, root=root))


def _root(root: Root, base: Path) -> Path | None:
    if root is None or root is False:
        return None
    return base if root is True else Path(root)


def loads(text: str, *, file: str = "<string>", base_dir: str | Path | None = None,
          overrides: Mapping[str, str] | None = None, root: Root = None) -> "Scene":
    """Parse and validate `.sigma` text. `overrides` are `--set NAME=VALUE` pairs for `param`s."""
    if not isinstance(text, str):
        from ..errors import SigmaError

        hint = ("decode it first: sigmascene.loads(data.decode('utf-8'))" if isinstance(text, (bytes, bytearray))
                else "for a file, use sigmascene.load(path)")
        raise SigmaError(f"loads takes the scene's text as a str, got {type(text).__name__}", hint=hint)
    return parse_text(text, file=file, base_dir=base_dir, overrides=overrides, root=root)


def load(path: str | PathLike[str], *, overrides: Mapping[str, str] | None = None, root: Root = None) -> "Scene":
    """Parse and validate a `.sigma` file; relative paths inside it resolve against its folder."""
    import os

    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        from ..errors import SigmaError

        raise SigmaError(f"load takes a file path (str or pathlib.Path), got {type(path).__name__}",
                         hint="for scene text, use sigmascene.loads(text)")
    return parse_file(path, overrides=overrides, root=root)


def dumps(scene: "Scene") -> str:
    """Print a Scene as canonical `.sigma` text; `loads(dumps(s)) == s`."""
    return print_scene(scene)


def with_params(scene: "Scene", **values: Any) -> "Scene":
    """The scene with its `param`s set to `values`, every `$name` use moved with them — what `--set NAME=VALUE`
    does to a file (the scene goes through its own text, so the language's rules apply unchanged).

    Any mistake is a SceneValidationError located at the caller's line: the text it went through is the
    scene's printed form, a file the caller never saw, so its lines would point nowhere useful."""
    overrides = {k: str(float(v)) if isinstance(v, ParamRef) else str(v) for k, v in values.items()}
    try:
        return parse_text(dumps(scene), file=scene.file or "<python>", base_dir=scene.base_dir, overrides=overrides,
                          override_label="with_params({name}=...)")
    except SigmaError as err:
        here = _caller_loc(outside=Path(__file__).resolve().parent.parent)
        raise SceneValidationError([Diagnostic(d.message, here, d.hint) for d in err.diagnostics]) from None
