"""The library call behind `sigmascene render`, `eval run`, `eval toyworld` and the editor: scene + options ->
images + sidecars.

Everything that decides *what* gets rendered lives here once — the model lookup (flag, env, config file, the
embedded demo model), the demo's canvas, the refusal of a condition cache no loaded LoRA can vouch for, the model
identity and the sidecar — so a picture from the editor, from `render` and from an eval run carries the same
facts, written by one function. Callers only parse their options and show `note` / `progress`.
"""

from __future__ import annotations

import json
import math
import shlex
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from ..errors import ConfigError, ModelError, SigmaError
from .provenance import model_identity, pipeline_identity, render_sidecar
from .options import RenderOptions

if TYPE_CHECKING:
    from PIL import Image

    from ..compiler import CompiledScene
    from ..scene import Scene

MODES = ("single", "iterative")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
DEFAULT_STEPS = 28


@dataclass
class RenderResult:
    images: list["Image.Image"]
    sidecars: list[dict]
    compiled: "CompiledScene"
    notes: list[str]


class RenderCancelled(SigmaError):
    """The caller's `cancel` event was set; nothing was written."""


# -- options ------------------------------------------------------------------------------------------------------
def parse_lora(spec: str | Path) -> tuple[Path, float]:
    """`path` or `path:weight` (weight a number; a Windows drive letter or a colon in a name stays in the path)."""
    text = str(spec)
    head, sep, tail = text.rpartition(":")
    if sep and head:
        try:
            weight = float(tail)
        except ValueError:
            weight = None
        if weight is not None:
            if not math.isfinite(weight):
                raise ConfigError(f"--lora {text}: the weight must be a finite number, got {tail}",
                                  hint="e.g. --lora style.safetensors:0.8")
            return Path(head).expanduser(), weight
    return Path(text).expanduser(), 1.0


def check_options(options: RenderOptions) -> None:
    """Every choice-valued option checked before anything is loaded."""
    from ..model.loading import DTYPES, OFFLOADS
    from ..scene.prompts import PROMPT_MODES

    for what, value, allowed in (("--mode", options.mode, MODES), ("--offload", options.offload, (None, *OFFLOADS)),
                                 ("--dtype", options.dtype, DTYPES), ("--prompt-mode", options.prompt_mode,
                                                                      PROMPT_MODES)):
        if value not in allowed:
            raise ConfigError(f"{what} {value!r} is not one of: {', '.join(a for a in allowed if a)}")
    if options.batch < 1:
        raise ConfigError(f"--batch must be at least 1, got {options.batch}")
    if min(options.blend_margin or 0, options.feather or 0) < 0:
        raise ConfigError(f"--blend-margin and --feather must be zero or more pixels, got {options.blend_margin} "
                          f"and {options.feather}")
    if options.steps is not None and options.steps < 1:
        raise ConfigError(f"--steps must be at least 1, got {options.steps}")


@dataclass
class ModelChoice:
    """Where the weights come from, decided without loading them."""

    base: Path
    loras: list[tuple[Path, float]]
    transformer: Path | None
    base_source: str
    lora_source: str

    @property
    def demo(self) -> bool:
        return self.base_source == "demo"


def choose_model(options: RenderOptions) -> ModelChoice:
    """Flags, then env / config file, then the embedded demo model; checked for existence, not loaded."""
    from ..model.config import require_base, resolve_model_paths

    loras = [parse_lora(s) for s in options.loras]
    paths = resolve_model_paths(options.base, loras[0][0] if loras else None)
    if not loras and paths.lora is not None:
        loras = [parse_lora(paths.lora)]
    if paths.base is None:  # nothing configured: the embedded demo model (sigmascene/demo)
        from ..demo.select import demo_model_paths

        if options.transformer:
            raise ConfigError("--transformer replaces the transformer of a base model, but no base is given",
                              hint="pass --base DIR for the other components (VAE, text encoders, scheduler)")
        paths = demo_model_paths(paths)
        assert paths.lora is not None  # the demo model always comes with its LoRA
        loras = [(paths.lora, 1.0)]
    base = require_base(paths)
    for p, _ in loras:
        if not p.is_file():
            head, sep, tail = str(p).rpartition(":")
            if sep and Path(head).is_file():  # `file:weight` whose weight is not a number
                raise ConfigError(f"--lora {p}: the weight after ':' must be a number, got {tail!r}",
                                  hint=f"e.g. --lora {head}:0.8")
            if p.is_dir():
                found = sorted(x.name for x in p.glob("*.safetensors"))[:3]
                raise ConfigError(f"--lora {p} is a folder; pass the LoRA file in it",
                                  hint=f"e.g. --lora {p / found[0]}" if found else "it holds no .safetensors file")
            raise ConfigError(f"LoRA file {p} does not exist", hint="pass the .safetensors `sigmascene train` wrote")
    transformer = Path(options.transformer).expanduser() if options.transformer else None
    if transformer is not None and transformer.is_dir():
        raise ConfigError(f"--transformer {transformer} is a folder; pass the single transformer file",
                          hint="a .safetensors or .gguf Kontext transformer; a diffusers folder goes to --base")
    if transformer is not None and not transformer.is_file():
        raise ConfigError(f"transformer file {transformer} does not exist",
                          hint="pass a single-file Flux Kontext transformer (.safetensors) or a .gguf file")
    return ModelChoice(base, loras, transformer, paths.base_source, paths.lora_source)


def check_cache_allowed(loras: Sequence[tuple[Path, float]]) -> None:
    """The condition cache is exact only for a model trained with the condition mask; every LoRA in the stack
    must say so in its metadata. Decided from file headers, before minutes of loading the base."""
    from ..model.lora import read_lora_info

    if not loras:
        raise ModelError("--cache-conditions needs a LoRA trained with the condition attention mask, but no LoRA "
                         "is loaded", hint="render without --cache-conditions, or pass --lora")
    for path, weight in loras:
        if weight == 0:
            continue  # a LoRA at weight 0 changes nothing, so it need not vouch
        info = read_lora_info(path)
        if not info.condition_mask:
            why = ("has no sigmascene metadata, so it cannot vouch for the condition mask" if not info.sigma else
                   "was trained without the condition mask, so it cannot vouch for the condition mask")
            raise ModelError(f"--cache-conditions needs a LoRA trained with the condition attention mask, but "
                             f"{path} {why}", hint="train with `condition_mask: true`, or render without "
                             "--cache-conditions")


# -- the call ---------------------------------------------------------------------------------------------------------
def fit_demo_canvas(scene: "Scene", demo_canvas: tuple[int, int]) -> tuple["Scene", str | None]:
    """The scene at the demo model's canvas, layout scaled and aspect kept (placements are canvas fractions, so
    only the canvas changes); a note says so. The demo knows nothing larger, and a 1024² canvas on a 64 px model
    costs minutes for a worse picture."""
    from ..scene import Canvas

    w, h = scene.canvas.width, scene.canvas.height
    dw, dh = demo_canvas
    if (w, h) == (dw, dh):
        return scene, None
    scale = min(dw / w, dh / h)
    nw, nh = (max(16, int(round(v * scale / 16)) * 16) for v in (w, h))
    fitted = scene.model_copy(update={"canvas": Canvas(width=nw, height=nh)})
    fitted.base_dir = scene.base_dir
    return fitted, (f"the demo model renders at its own canvas: {nw}x{nh} px instead of {w}x{h} "
                    "(layout scaled, aspect kept); pass --base/--lora to render at the scene's size")


def load_model(options: RenderOptions, *, note: Callable[[str], None] | None = None) -> Any:
    """The SigmaPipeline the options name (flag, env, config file, else the demo model), loaded once: the editor
    keeps it across renders and hands it back as `render_scene(..., pipe=pipe)`. The pipeline remembers its model
    identity and whether it is the demo model (which renders every scene at its own canvas)."""
    check_options(options)
    choice = choose_model(options)
    if options.cache_conditions:
        check_cache_allowed(choice.loras)
    return _load(choice, options, note)


def _load(choice: ModelChoice, options: RenderOptions, note: Callable[[str], None] | None) -> Any:
    from ..model.loading import load_pipeline

    pipe = load_pipeline(choice.base, choice.loras, transformer=choice.transformer, device=options.device,
                         dtype=options.dtype, offload=options.offload, vae_tiling=options.vae_tiling, note=note)
    pipe.sigmascene_identity = model_identity(choice.base, choice.loras, transformer=choice.transformer,
                                              base_source=choice.base_source, lora_source=choice.lora_source)
    pipe.sigmascene_demo = choice.demo
    return pipe


def render_scene(scene: "Scene", options: RenderOptions, *, note: Callable[[str], None] | None = None,
                 progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None,
                 pipe: Any = None, source: str | Path | None = None, sets: dict[str, str] | None = None,
                 model: dict[str, Any] | None = None) -> RenderResult:
    """Compile and render a scene `options.batch` times (seeds seed..seed+batch-1).

    `pipe` reuses a loaded SigmaPipeline (from `load_model`; the editor and eval keep one); without it the model
    is chosen from the options (flag, env, config, demo) and loaded. `progress(step, total)` is called after every
    denoising step; setting `cancel` stops at the next step with RenderCancelled. `source` and `sets` are only
    recorded; `model` is the model_identity of a given `pipe` when the caller computed it before loading (eval run
    does).
    """
    import sigmascene

    notes: list[str] = []

    def say(msg: str) -> None:
        notes.append(msg)
        if note is not None:
            note(msg)

    check_options(options)
    t0 = time.perf_counter()
    choice = None
    if pipe is None:
        choice = choose_model(options)
        if options.cache_conditions:  # from the files' headers, before minutes of loading
            check_cache_allowed(choice.loras)
    demo = choice.demo if choice is not None else bool(getattr(pipe, "sigmascene_demo", False))
    if demo:
        from ..demo import DEMO_CANVAS
        from ..demo.select import demo_banner, demo_notes

        say(demo_banner())
        scene, fitted = fit_demo_canvas(scene, DEMO_CANVAS)
        for line in demo_notes(scene):
            say(line)
        if fitted:
            say(fitted)
    extra: dict[str, Any] = {} if options.identity_size is None else {"identity_size": options.identity_size}
    if scene.background is not None:
        extra["blend_margin"] = options.blend_margin
    compiled = sigmascene.compile(scene, **extra)
    t_compile = time.perf_counter() - t0
    for w in getattr(compiled, "warnings", []):
        say(str(w))
    steps = options.steps or (_demo_steps() if demo else DEFAULT_STEPS)

    t0 = time.perf_counter()
    if pipe is None:
        assert choice is not None  # chosen above whenever no pipe was given
        pipe = _load(choice, options, say)
    model = model or getattr(pipe, "sigmascene_identity", None) or pipeline_identity(pipe)
    t_load = time.perf_counter() - t0

    first = scene.seed if options.seed is None else options.seed
    seeds = [first + k for k in range(options.batch)]
    images, sidecars = [], []
    for k, seed in enumerate(seeds):
        with _small_model_threads(demo, pipe):
            out = _render_one(pipe, compiled, options, seed, steps, progress, cancel)
        images.append(out.images[0])
        timings = dict(out.timings, compile_s=t_compile, load_s=t_load)
        sidecars.append(render_sidecar(scene=scene, compiled=compiled, options=options, model=model, pipe=pipe,
                                       seed=seed, seeds=seeds, batch_index=k, steps=steps, timings=timings,
                                       source=source, sets=sets))
    return RenderResult(images=images, sidecars=sidecars, compiled=compiled, notes=notes)


@contextmanager
def _small_model_threads(small: bool, pipe: Any) -> Iterator[None]:
    """The demo model's matmuls are a few hundred numbers wide: split over threads, each step waits on the other
    threads far longer than it computes (15x slower on a busy 2-core machine, measured). It runs on one CPU
    thread while it renders; the caller's setting is restored afterwards."""
    import torch

    if not small or getattr(pipe, "_execution_device", torch.device("cpu")).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _demo_steps() -> int:
    from ..demo import DEMO_STEPS

    return DEMO_STEPS


def _render_one(pipe: Any, compiled: Any, options: RenderOptions, seed: int, steps: int,
                progress: Callable[[int, int], None] | None, cancel: threading.Event | None) -> Any:
    import torch

    def on_step(i: int, total: int) -> None:
        if progress is not None:
            progress(i, total)

    def on_step_end(p: Any, i: int, t: Any, tensors: dict) -> dict:
        if cancel is not None and cancel.is_set():
            p._interrupt = True  # diffusers' interrupt: the remaining steps (and passes) are skipped
        return {}

    kwargs = dict(prompt_mode=options.prompt_mode, seed=seed, num_inference_steps=steps,
                  guidance_scale=options.guidance, callback=on_step, callback_on_step_end=on_step_end)
    if getattr(compiled, "background", None) is not None:
        from ..compiler.background import default_blend

        canvas = compiled.scene.canvas
        feather = options.feather
        kwargs["feather"] = default_blend(canvas.width, canvas.height)[1] if feather is None else feather
    try:
        if options.mode == "iterative":
            out = pipe.render_iterative(compiled, **kwargs)
        else:
            out = pipe.render(compiled, cache_conditions=options.cache_conditions, **kwargs)
        if cancel is not None and cancel.is_set():
            raise RenderCancelled("rendering was cancelled")
        return out
    except torch.OutOfMemoryError:
        raise ModelError("out of GPU memory while rendering", hint="try --offload model (or sequential), "
                         "--dtype fp8, --vae-tiling, or fewer/smaller identity blocks") from None


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
    for path, image, sidecar in zip(paths, result.images, result.sidecars):
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
        path.with_suffix(".json").write_bytes(sidecar_bytes(sidecar, path))
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


__all__ = ["RenderCancelled", "RenderOptions", "RenderResult", "image_bytes", "load_model", "model_identity",
           "render_scene", "save_render", "save_sheet", "sheet_path", "sidecar_bytes"]
