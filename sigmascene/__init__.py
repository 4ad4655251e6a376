"""sigmascene: write multi-subject scenes as text or Python, compile them into SIGMA-GEN control maps."""

from __future__ import annotations

from os import PathLike
from typing import TYPE_CHECKING, Any

from .scene.builder import ParamRef, box2d, box3d, camera, mask, mesh, polygon
from .errors import Diagnostic, SceneValidationError, SigmaError, SourceLoc
from .grammar import dumps, load, loads, with_params
from .scene import Box2D, Box3D, Camera, Canvas, Mask, Mesh, Param, Polygon, Relation, Scene, Subject

if TYPE_CHECKING:
    from .compiler import CompiledScene

from .version import __version__


def compile(scene: Scene | str | PathLike, **options: Any) -> "CompiledScene":  # noqa: A001 - mirrors the CLI
    """Compile a Scene — or the `.sigma` file at a path, loaded first — into the SIGMA control image I_C,
    identity dictionary I_S and manifest."""
    from .compiler import compile_scene

    if isinstance(scene, str) and ("\n" in scene or scene.lstrip().startswith("sigma ")):
        raise SigmaError("compile takes a Scene or a file path; this is scene text",
                         hint="load it first: sigmascene.compile(sigmascene.loads(text))")
    if isinstance(scene, (str, PathLike)):
        scene = load(scene)
    return compile_scene(scene, **options)


__all__ = [
    "Box2D", "Box3D", "Camera", "Canvas", "Diagnostic", "Mask", "Mesh", "Param", "ParamRef", "Polygon", "Relation",
    "Scene", "SceneValidationError", "SigmaError", "SourceLoc", "Subject", "box2d", "box3d", "camera", "compile",
    "dumps", "load", "loads", "mask", "mesh", "polygon", "with_params", "__version__",
]
