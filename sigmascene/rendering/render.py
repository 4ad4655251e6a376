"""The library call behind `sigmascene render`, `sigmascene.render`, `eval run`, `eval toyworld` and the editor:
request -> plan -> method -> pipeline.

What gets rendered is decided once, by the resolver (plan.py): the weights, the method, the seeds. This module
acts on a plan: it fits the scene to the demo canvas when the demo renders, compiles, loads the weights the plan
names (or takes a loaded model the caller kept), calls the method table's entry for each seed, and writes one
sidecar per image (provenance.py). Callers only build a request and show `note` / `progress`.
"""

from __future__ import annotations

import json
import shlex
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from ..core.files import png_mark
from ..errors import ConfigError, ModelError, SigmaError
from .method import MethodCall, MethodOutput
from .methods import method_entry
from .options import RenderOptions  # the old name of RenderRequest, re-exported
from .plan import (DEFAULT_STEPS, MODES, ModelPlan, RenderPlan, check_cache_allowed, check_request,  # noqa: F401 - re-exported
                   parse_lora, resolve_model, resolve_plan)
from .provenance import model_identity, plan_identity, render_sidecar
from .request import RenderRequest

if TYPE_CHECKING:
    from PIL import Image

    from ..model.pipeline import SigmaPipeline
    from ..scene import Scene
    from ..scene.compiled import CompiledScene

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
check_options = check_request  # the old name


@dataclass
class RenderResult:
    """`images`: one PIL image per seed (output_type pil), an N x H x W x 3 float array (np), or the final packed
    latents (N, tokens, channels) before decoding (latent), as diffusers pipelines return them."""

    images: Any
    sidecars: list[dict]
    compiled: "CompiledScene"
    notes: list[str]
    plan: RenderPlan | None = None
    files: list[dict[str, "Image.Image"]] = field(default_factory=list)  # per image: method files (the layout)


@dataclass
class LoadedModel:
    """A pipeline loaded for a ModelPlan; the editor and eval keep one across renders."""

    plan: ModelPlan
    pipe: "SigmaPipeline"
    identity: dict[str, Any]


class RenderCancelled(SigmaError):
    """The caller's `cancel` event was set; nothing was written."""


# -- loading -----------------------------------------------------------------------------------------------------
def load_model(request: RenderRequest | ModelPlan, *, note: Callable[[str], None] | None = None) -> LoadedModel:
    """The pipeline a request (or a resolved ModelPlan) names, loaded once."""
    plan = request if isinstance(request, ModelPlan) else resolve_model(request)[0]
    from ..model.loading import load_pipeline

    pipe = load_pipeline(plan.base, plan.lora_pairs, transformer=plan.transformer, device=plan.device,
                         dtype=plan.dtype, offload=plan.offload, vae_tiling=plan.vae_tiling, note=note)
    return LoadedModel(plan, pipe, plan_identity(plan))


# -- the call ----------------------------------------------------------------------------------------------------
def fit_demo_canvas(scene: "Scene", size: tuple[int, int]) -> tuple["Scene", str | None]:
    """The scene at the demo model's canvas, layout scaled and aspect kept (placements are canvas fractions, so
    only the canvas changes); a note says so. The demo knows nothing larger, and a 1024² canvas on a 64 px model
    costs minutes for a worse picture."""
    from ..scene import Canvas

    w, h = scene.canvas.width, scene.canvas.height
    nw, nh = size
    if (w, h) == (nw, nh):
        return scene, None
    fitted = scene.model_copy(update={"canvas": Canvas(width=nw, height=nh)})
    fitted.base_dir = scene.base_dir
    return fitted, (f"the demo model renders at its own canvas: {nw}x{nh} px instead of {w}x{h} "
                    "(layout scaled, aspect kept); pass --base/--lora to render at the scene's size")


def render_scene(scene: "Scene", request: RenderRequest, *, note: Callable[[str], None] | None = None,
                 progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None,
                 loaded: LoadedModel | None = None, source: str | Path | None = None,
                 sets: dict[str, str] | None = None) -> RenderResult:
    """Resolve the request against the scene (and the `loaded` model, when given), then `render_plan`."""
    plan = resolve_plan(request, scene, loaded.plan if loaded is not None else None)
    return render_plan(scene, plan, note=note, progress=progress, cancel=cancel,
                       loaded=loaded, source=source, sets=sets)


def render_plan(scene: "Scene", plan: RenderPlan, *, note: Callable[[str], None] | None = None,
                progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None,
                loaded: LoadedModel | None = None, source: str | Path | None = None,
                sets: dict[str, str] | None = None) -> RenderResult:
    """Compile and render a scene once per seed of the plan, through the method table's entry.

    `loaded` reuses a model loaded for this plan's ModelPlan (the editor and eval keep one); without it the plan's
    weights are loaded. `progress(step, total)` is called after every denoising step; setting `cancel` stops at
    the next step with RenderCancelled. `source` and `sets` are only recorded.
    """
    notes: list[str] = []

    def say(msg: str) -> None:
        notes.append(msg)
        if note is not None:
            note(msg)

    if not plan.seeds or plan.size is None:
        raise ConfigError("this render plan was resolved without a scene", hint="resolve_plan(request, scene)")
    if loaded is not None and loaded.plan != plan.model:
        raise ConfigError("the loaded model is not the one this render asks for",
                          hint="load the request's model (load_model) or drop the loaded one")
    t0 = time.perf_counter()
    if plan.model.demo:
        from ..demo.select import demo_banner, demo_notes

        say(demo_banner())
        scene, fitted = fit_demo_canvas(scene, plan.size)
        for line in demo_notes(scene):
            say(line)
        if fitted:
            say(fitted)
    elif plan.size != (scene.canvas.width, scene.canvas.height):  # a method's pixel grid (the plan's note says)
        scene, _ = fit_demo_canvas(scene, plan.size)
    for line in plan.notes:
        say(line)
    compiled = _compile(scene, plan)
    t_compile = time.perf_counter() - t0
    for w in compiled.warnings:
        say(str(w))

    t0 = time.perf_counter()
    if loaded is None:
        loaded = load_model(plan.model, note=say)
    t_load = time.perf_counter() - t0

    outputs: list[MethodOutput] = []
    sidecars = []
    for k, seed in enumerate(plan.seeds):
        with _small_model_threads(plan.model.demo, loaded.pipe):
            out = _render_one(loaded.pipe, compiled, plan, seed, progress, cancel, say)
        outputs.append(out)
        timings = dict(out.timings, compile_s=t_compile, load_s=t_load)
        sidecars.append(render_sidecar(scene=scene, compiled=compiled, plan=plan, model=loaded.identity,
                                       pipe=loaded.pipe, seed=seed, batch_index=k, timings=timings,
                                       source=source, sets=sets, method_facts=out.sidecar))
    return RenderResult(images=_join(outputs, plan.output_type), sidecars=sidecars, compiled=compiled, notes=notes,
                        plan=plan, files=[o.files for o in outputs])


def _compile(scene: "Scene", plan: RenderPlan) -> "CompiledScene":
    from ..compiler import compile_scene

    extra: dict[str, Any] = {} if plan.identity_size is None else {"identity_size": plan.identity_size}
    if scene.background is not None:
        extra["blend_margin"] = plan.blend_margin
    return compile_scene(scene, **extra)


def _join(outputs: list[MethodOutput], output_type: str) -> Any:
    """One seed's images each -> diffusers' shape of a batch: a list of PIL images, one array, one tensor."""
    if output_type == "pil":
        return [img for o in outputs for img in o.images]
    if output_type == "latent":
        import torch

        return torch.cat([o.images for o in outputs])
    import numpy as np

    return np.concatenate([np.asarray(o.images) for o in outputs])


@contextmanager
def _small_model_threads(small: bool, pipe: "SigmaPipeline") -> Iterator[None]:
    """The demo model's matmuls are a few hundred numbers wide: split over threads, each step waits on the other
    threads far longer than it computes (15x slower on a busy 2-core machine, measured). It runs on one CPU
    thread while it renders; the caller's setting is restored afterwards."""
    import torch

    if not small or pipe._execution_device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _render_one(pipe: "SigmaPipeline", compiled: "CompiledScene", plan: RenderPlan, seed: int,
                progress: Callable[[int, int], None] | None, cancel: threading.Event | None,
                note: Callable[[str], None]) -> MethodOutput:
    import torch

    from ..model.seeds import seed_generator

    def on_step_end(p: "SigmaPipeline", i: int, t: Any, tensors: dict) -> dict:
        if cancel is not None and cancel.is_set():
            p._interrupt = True  # diffusers' interrupt: the remaining steps (and passes) are skipped
        return {}

    feather = None
    if compiled.background is not None:
        from ..compiler.background import default_blend

        canvas = compiled.scene.canvas
        feather = default_blend(canvas.width, canvas.height)[1] if plan.feather is None else plan.feather
    call = MethodCall(plan=plan, pipe=pipe, compiled=compiled, seed=seed, generator=seed_generator(seed),
                      progress=progress, step_end=on_step_end, note=note, feather=feather)
    try:
        out = method_entry(plan.method, plan.insertion)(call)
    except torch.OutOfMemoryError:
        raise ModelError("out of GPU memory while rendering", hint="try --offload model (or sequential), "
                         "--dtype fp8, --vae-tiling, or fewer/smaller identity blocks") from None
    if cancel is not None and cancel.is_set():
        raise RenderCancelled("rendering was cancelled")
    return out

def output_paths(out: str | Path, seeds: Sequence[int]) -> list[Path]:
    """`out` for one image; `<stem>_<seed><suffix>` for a batch."""
    out = Path(out)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise ConfigError(f"output {str(out)!r} must end in .png, .jpg or .webp")
    if len(seeds) == 1:
        return [out]
    return [out.with_name(f"{out.stem}_{s}{out.suffix}") for s in seeds]


def sidecar_bytes(sidecar: dict, path: Path) -> bytes:
    """The JSON sidecar written beside the image at `path` (it names the image and the `-o` that made it)."""
    side = dict(sidecar, image=path.name)
    side["command"] = _with_output(side.get("command", ""), path)
    return (json.dumps(side, indent=2, sort_keys=True) + "\n").encode("utf-8")


def image_bytes(image, path: Path) -> bytes:
    """The image encoded as `path`'s suffix says (for writers that create the file themselves)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    image.save(buf, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
    return buf.getvalue()


def save_render(result: RenderResult, out: Path) -> list[Path]:
    """Each image at its path with its sidecar JSON beside it (same stem); returns the image paths. Plain writes,
    so the files get the user's umask."""
    paths = output_paths(out, [s["seed"] for s in result.sidecars])
    if not isinstance(result.images, list):
        raise ConfigError(f"only PIL images are saved; this render returned output_type {result.plan.output_type!r}"
                          if result.plan else "only PIL images are saved")
    files = result.files or [{} for _ in paths]
    for path, image, sidecar, extra in zip(paths, result.images, result.sidecars, files):
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
        side = dict(sidecar)
        for key, picture in extra.items():  # a method's own files (collage's layout image), beside the render
            extra_path = path.with_name(f"{path.stem}.{key}.png")
            picture.save(extra_path, pnginfo=png_mark(key))  # marked: a later render or preview may replace it
            side.setdefault("files", {})[key] = extra_path.name
        path.with_suffix(".json").write_bytes(sidecar_bytes(side, path))
    return paths


def sheet_path(image: Path) -> Path:
    """Where the "asked vs got" sheet of a render goes: beside it, `<image stem>.sheet.png`."""
    return image.with_name(f"{image.stem}.sheet.png")


def save_sheet(result: RenderResult, k: int, image_path: Path) -> Path:
    """Write the layout | routing map | render sheet of image `k` beside it (marked as ours, so a re-run may
    replace it and a user's own PNG is never overwritten unasked); returns its path."""
    from ..compiler.render_sheet import render_sheet
    from ..core.files import png_mark, save_image_atomic

    side = result.sidecars[k]
    note = f"seed {side.get('seed')}, {side.get('steps')} steps" + (
        ", the embedded demo model (64 px, trained for a few CPU hours)"
        if (side.get("model") or {}).get("base_source") == "demo" else "")
    path = sheet_path(image_path)
    save_image_atomic(render_sheet(result.compiled, result.images[k], note), path, pnginfo=png_mark("render sheet"))
    return path


def _with_output(command: str, path: Path) -> str:
    parts = shlex.split(command)
    if len(parts) >= 3:
        parts[3:3] = ["-o", str(path)]
    return " ".join(shlex.quote(p) for p in parts)


__all__ = ["LoadedModel", "RenderCancelled", "RenderOptions", "RenderRequest", "RenderResult", "image_bytes",
           "load_model", "model_identity", "parse_lora", "render_plan", "render_scene", "save_render", "save_sheet",
           "sheet_path", "sidecar_bytes"]
