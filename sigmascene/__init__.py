"""sigmascene: write multi-subject scenes as text or Python, compile them into SIGMA-GEN control maps.

Every placement kind's node class and constructor (`Box2D` / `box2d()`, ...) is exported from the kind registry
(sigmascene/scene/kinds/), so a new kind appears here without an edit; the TYPE_CHECKING block only tells static
checkers what the registry holds today."""

from __future__ import annotations

from os import PathLike
from typing import TYPE_CHECKING, Any, Sequence

from .scene.builder import ParamRef, camera
from .errors import Diagnostic, SceneValidationError, SigmaError, SourceLoc
from .grammar import dumps, load, loads, with_params
from .scene import Camera, Canvas, Param, Relation, Scene, Subject
from .scene.kinds import BUILDERS as _BUILDERS, NODES as _NODES
from .version import __version__

globals().update(_NODES)
globals().update(_BUILDERS)

if TYPE_CHECKING:
    from pathlib import Path

    from .compiler import CompiledScene
    from .rendering.render import RenderResult
    from .scene.kinds.box2d import Box2D, box2d  # noqa: F401 - what the registry exports, for checkers
    from .scene.kinds.box3d import Box3D, box3d  # noqa: F401 - what the registry exports, for checkers
    from .scene.kinds.mask import Mask, mask  # noqa: F401 - what the registry exports, for checkers
    from .scene.kinds.mesh import Mesh, mesh  # noqa: F401 - what the registry exports, for checkers
    from .scene.kinds.polygon import Polygon, polygon  # noqa: F401 - what the registry exports, for checkers



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


def render(scene: "Scene | str | Path", *, base: "str | Path | None" = None,
           loras: "Sequence[str | Path | tuple[str | Path, float]]" = (), method: str | None = None,
           seed: "int | Sequence[int] | None" = None, steps: int | None = None, guidance: float | None = None,
           output_type: str = "pil", **options: Any) -> "RenderResult":
    """Render a scene (a Scene, or a `.sigma` file) with the weights and method given, as `sigmascene render` does.

    `base` None: env / config file / the embedded demo model. `loras`: paths, `path:weight` strings or (path,
    weight) pairs. `method` None: chosen from the model (demo -> sigma, a SIGMA LoRA -> sigma, a base and no LoRA
    -> collage). `seed`: one seed (None: the scene's) or a list, one image each. `output_type`: "pil" (result
    `.images` is a list of PIL images), "np", or "latent" (the final packed latents before decoding, a tensor
    (N, tokens, channels), as diffusers pipelines return them). `options` are the other fields of
    `sigmascene.rendering.request.RenderRequest` (batch, dtype, device, transformer, cache_conditions, ...) plus
    `note` / `progress` callbacks and `loaded` (a `rendering.render.LoadedModel` to reuse). Every rule is checked
    by the one resolver (sigmascene/rendering/plan.py) before anything loads."""
    from .rendering.python_api import render_python

    return render_python(scene, base=base, loras=loras, method=method, seed=seed, steps=steps, guidance=guidance,
                         output_type=output_type, **options)


__all__ = [
    "Camera", "Canvas", "Diagnostic", "Param", "ParamRef", "Relation", "Scene", "SceneValidationError", "SigmaError",
    "SourceLoc", "Subject", "camera", "compile", "dumps", "load", "loads", "render", "with_params", "__version__",
]
__all__ += [*_NODES, *_BUILDERS]  # the placement kinds, from the registry
