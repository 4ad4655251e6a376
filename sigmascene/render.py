"""The library render call (contract in the project's OWNERS notes): compile a Scene, load the configured model
(or the embedded demo model), run SigmaPipeline, and hand back images with their sidecars.

This is the editor branch's thin implementation of the shared names, kept to the contract so the render-owner's
fuller version replaces it at merge without changing any caller.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import SigmaError
from .scene import Scene


@dataclass
class RenderOptions:
    base: str | None = None
    loras: list[str] = field(default_factory=list)
    transformer: str | None = None
    steps: int | None = None
    guidance: float = 2.5
    seed: int | None = None
    mode: str = "single"
    cache_conditions: bool = False
    offload: str | None = None
    dtype: str = "auto"
    vae_tiling: bool = False
    prompt_mode: str = "auto"
    device: str = "auto"
    identity_size: tuple[int, int] | None = None
    batch: int = 1


@dataclass
class RenderResult:
    images: list[Any]
    sidecars: list[dict]
    compiled: Any
    notes: list[str]


class RenderCancelled(SigmaError):
    """The caller set the cancel event; no image was made."""


def render_scene(scene: Scene, options: RenderOptions, *, note: Callable[[str], None] | None = None,
                 progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None,
                 pipe: Any = None) -> RenderResult:
    from .compiler import compile_scene
    from .model.config import require_base, resolve_model_paths
    from .model.loading import load_pipeline
    from .prompts import build_prompt, resolve_mode

    notes: list[str] = []

    def say(msg: str) -> None:
        notes.append(msg)
        if note is not None:
            note(msg)

    compiled = compile_scene(scene, identity_size=options.identity_size)
    for w in compiled.warnings:
        say(str(w))
    steps = options.steps
    paths = resolve_model_paths(options.base, options.loras[0] if options.loras else None)
    if paths.base is None:
        from .demo import DEMO_STEPS
        from .demo.select import demo_model_paths, demo_notes

        paths = demo_model_paths(paths)
        for n in demo_notes(scene):
            say(n)
        steps = steps or DEMO_STEPS
    steps = steps or 28
    base_dir = require_base(paths)
    if cancel is not None and cancel.is_set():
        raise RenderCancelled("render cancelled")
    t0 = time.perf_counter()
    if pipe is None:
        pipe = load_pipeline(base_dir, paths.lora, device=options.device, dtype=options.dtype,
                             offload=options.offload, vae_tiling=options.vae_tiling, note=say)
    t_load = time.perf_counter() - t0

    def step(i: int, total: int) -> None:
        if cancel is not None and cancel.is_set():
            raise RenderCancelled("render cancelled")
        if progress is not None:
            progress(i, total)

    first = scene.seed if options.seed is None else options.seed
    images, sidecars = [], []
    for k in range(options.batch):
        seed = first + k
        kwargs = dict(prompt_mode=options.prompt_mode, seed=seed, num_inference_steps=steps,
                      guidance_scale=options.guidance, cache_conditions=options.cache_conditions, callback=step)
        out = pipe.render_iterative(compiled, **kwargs) if options.mode == "iterative" else pipe.render(compiled, **kwargs)
        images.append(out.images[0])
        sidecars.append({"scene": {"file": scene.file}, "prompt": build_prompt(scene, options.prompt_mode),
                         "prompt_mode": resolve_mode(scene, options.prompt_mode), "mode": options.mode,
                         "steps": steps, "guidance": options.guidance, "seed": seed, "batch_index": k,
                         "size": [scene.canvas.width, scene.canvas.height], "subjects": list(compiled.order),
                         "model": {"base": str(base_dir), "base_source": paths.base_source,
                                   "lora": str(paths.lora) if paths.lora else None},
                         "timings": dict(out.timings, load_s=t_load)})
    return RenderResult(images=images, sidecars=sidecars, compiled=compiled, notes=notes)


def save_render(result: RenderResult, out: Path) -> list[Path]:
    """Write each image (out, or out_<seed> for a batch) and a sidecar JSON beside it."""
    out = Path(out)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        raise SigmaError(f"output {str(out)!r} must end in .png, .jpg or .webp")
    written = []
    for k, (img, side) in enumerate(zip(result.images, result.sidecars)):
        path = out if len(result.images) == 1 else out.with_name(f"{out.stem}_{side['seed']}{out.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        path.with_suffix(".json").write_text(json.dumps(dict(side, image=path.name), indent=2, sort_keys=True) + "\n",
                                             encoding="utf-8")
        written.append(path)
    return written
