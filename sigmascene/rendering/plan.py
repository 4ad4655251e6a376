"""The resolver: a RenderRequest (CLI, editor, eval, Python) -> one checked, frozen RenderPlan.

Every rule of a render is here, checked once, one error kind per mistake, before anything loads: where the
weights come from (flag, env, config file, else the embedded demo model), that each LoRA exists (ConfigError,
raised here only), what kind each LoRA is (lora_kinds.py), which method renders (methods.py) and whether the LoRAs
and flags fit it, the seed rule (the language's: scene/ir.py `seed_problem`), the seeds of a batch, steps,
guidance and the size. Callers turn their options into a request, call `resolve_plan`, and act on the plan.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, ModelError
from ..model.lora import check_lora_file
from ..scene import seed_problem
from .lora_kinds import kind_label, read_header, recognise
from .cutout_models import check_cutout_models
from .method import METHOD_FLAGS, MethodSpec
from .methods import SPECS, method_spec
from .plan_record import LoraChoice, ModelPlan, RenderPlan
from .request import OUTPUT_TYPES, RenderRequest

if TYPE_CHECKING:
    from ..scene import Scene

MODES = ("single", "iterative")   # the old --mode: `iterative` is the method of that name
DEFAULT_STEPS = 28


# -- the rules ---------------------------------------------------------------------------------------------------
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


def check_request(req: RenderRequest) -> None:
    """Every choice-valued and numeric option, before any file is looked at."""
    from ..model.loading import DTYPES, OFFLOADS
    from ..scene.prompts import PROMPT_MODES

    for what, value, allowed in (("--mode", req.mode, MODES), ("--offload", req.offload, (None, *OFFLOADS)),
                                 ("--dtype", req.dtype, DTYPES), ("--prompt-mode", req.prompt_mode, PROMPT_MODES),
                                 ("output_type", req.output_type, OUTPUT_TYPES)):
        if value not in allowed:
            raise ConfigError(f"{what} {value!r} is not one of: {', '.join(a for a in allowed if a)}")
    if req.batch < 1:
        raise ConfigError(f"--batch must be at least 1, got {req.batch}")
    if min(req.blend_margin or 0, req.feather or 0) < 0:
        raise ConfigError(f"--blend-margin and --feather must be zero or more pixels, got {req.blend_margin} "
                          f"and {req.feather}")
    if req.steps is not None and (isinstance(req.steps, bool) or not isinstance(req.steps, int) or req.steps < 1):
        raise ConfigError(f"--steps must be a whole number, at least 1, got {req.steps!r}")
    if req.guidance is not None and (isinstance(req.guidance, bool) or not isinstance(req.guidance, (int, float))
                                     or not math.isfinite(req.guidance)):
        raise ConfigError(f"--guidance must be a finite number, got {req.guidance!r}")
    for s in ([req.seed] if req.seed is not None else []) + list(req.seeds):
        why = seed_problem(s)
        if why:  # the language's own words for its own rule (scene/ir.py), whichever front the seed came from
            raise ConfigError(why, hint="any seed from 0 to 2**53 is as random as another")
    if req.seeds and (req.seed is not None or req.batch != 1):
        raise ConfigError("give either a list of seeds or a seed with a batch, not both")


def resolve_method(req: RenderRequest, kinds: list[str], demo: bool) -> tuple[MethodSpec, str | None]:
    """The method the request names (old `--mode iterative` included), else the default; with the one line that
    says which default was taken (None when the user named it or the demo took it)."""
    named = req.method
    if req.mode == "iterative":
        if named not in (None, "iterative"):
            raise ConfigError(f"--mode iterative is the iterative method; it cannot be combined with --method {named}",
                              hint="drop --mode (its new spelling is --method iterative)")
        named = "iterative"
    if named is not None:
        return method_spec(named), None
    if demo:
        return SPECS["sigma"], None
    owners = sorted({s.name for s in SPECS.values() if s.own_lora is not None and s.own_lora in kinds
                     and s.name != "iterative"})
    if len(owners) > 1:
        raise ConfigError(f"the LoRAs fit several methods ({', '.join(owners)})", hint="pass --method NAME")
    if owners:
        return SPECS[owners[0]], f"method: {owners[0]} (the {owners[0]} LoRA decides it; --method to choose)"
    return SPECS["collage"], ("method: collage (a base and no method LoRA: stock Kontext reads a layout image of "
                              "the references; pass a SIGMA LoRA for --method sigma)")


def check_fit(spec: MethodSpec, loras: list[LoraChoice]) -> None:
    """Each LoRA is the method's own kind or an extra it can stack; the method's own kind is present."""
    for lo in loras:
        if lo.kind != spec.own_lora and lo.kind not in spec.extra_loras:
            raise ConfigError(f"--lora {lo.path} is {kind_label(lo.kind)}, which the {spec.name} method cannot use",
                              hint=_fitting(lo.kind) or f"drop it, or choose another --method ({', '.join(SPECS)})")
    if spec.own_lora is not None and not any(lo.kind == spec.own_lora for lo in loras):
        have = (" (the LoRAs given are " + ", ".join(f"{lo.path.name}: {lo.kind}" for lo in loras) + ")") \
            if loras else ""
        raise ConfigError(f"--method {spec.name} needs {kind_label(spec.own_lora)}, but none is given{have}",
                          hint="pass --lora FILE, or --method collage to render with the stock base")


def _fitting(kind: str) -> str | None:
    fit = [s.name for s in SPECS.values() if s.own_lora == kind]
    return f"{kind_label(kind)} is for --method {' / '.join(fit)}" if fit else None


def loras_for(method: str, loras: list[str]) -> list[str]:
    """The LoRAs (`path[:weight]`) a method can use, for fronts that compare several methods on one model (`eval
    run --method a,b`, `eval toyworld`): collage beside sigma renders the same base without the SIGMA LoRA. A
    single `render` keeps the strict rule (a LoRA that does not fit is an error)."""
    spec = method_spec(method)
    kept = []
    for text in loras:
        path, _ = parse_lora(text)
        check_lora_file(path)
        kind = recognise(read_header(path))
        if kind == spec.own_lora or kind in spec.extra_loras:
            kept.append(text)
    return kept


def check_flags(spec: MethodSpec, req: RenderRequest) -> None:
    asked = {"cache_conditions": req.cache_conditions, "segmenter": req.segmenter is not None,
             "detector": req.detector is not None}
    for name, flag in METHOD_FLAGS.items():
        if asked[name] and name not in spec.flags:
            users = [s.name for s in SPECS.values() if name in s.flags]
            raise ConfigError(f"{flag} is an option of the {' / '.join(users)} method, not of {spec.name}",
                              hint=f"drop {flag}, or render with --method {users[0]}" if users else None)
    if req.output_type not in spec.output_types:
        raise ConfigError(f"output_type {req.output_type!r} is not available with the {spec.name} method",
                          hint=f"use one of: {', '.join(spec.output_types)}")


def check_cache_allowed(loras: list[LoraChoice]) -> None:
    """The condition cache is exact only for a model trained with the condition mask; every LoRA in the stack
    must say so in its metadata. Decided from file headers, before minutes of loading the base."""
    from ..model.lora import read_lora_info

    for lo in loras:
        if lo.weight == 0:
            continue  # a LoRA at weight 0 changes nothing, so it need not vouch
        info = read_lora_info(lo.path)
        if not info.condition_mask:
            why = ("has no sigmascene metadata, so it cannot vouch for the condition mask" if not info.sigma else
                   "was trained without the condition mask, so it cannot vouch for the condition mask")
            raise ModelError(f"--cache-conditions needs a LoRA trained with the condition attention mask, but "
                             f"{lo.path} {why}", hint="train with `condition_mask: true`, or render without "
                             "--cache-conditions")


# -- the resolver -----------------------------------------------------------------------------------------------
def resolve_model(req: RenderRequest, loaded: ModelPlan | None = None) -> tuple[ModelPlan, MethodSpec, tuple[str, ...]]:
    """Where the weights come from and which method renders: flags, then env / config file, then the embedded demo
    model; every file checked for existence and every LoRA's kind read from its header, nothing loaded.

    `loaded`: the model a caller already holds (the editor, eval): a request that names no weights renders with
    it, and the method and flags are checked against its LoRAs."""
    check_request(req)
    if loaded is not None and not (req.base or req.loras or req.transformer):
        model = loaded
    else:
        model = _model_plan(req)
    spec, said = resolve_method(req, [lo.kind for lo in model.loras], model.demo)
    if model.demo and spec.own_lora is None and model is not loaded:
        # a method on the stock demo base: the demo's own SIGMA LoRA stays out
        model = replace(model, loras=tuple(lo for lo in model.loras if lo.kind != "sigma"))
    check_fit(spec, list(model.loras))
    check_flags(spec, req)
    if req.cache_conditions:
        check_cache_allowed(list(model.loras))
    return model, spec, (said,) if said else ()


def _model_plan(req: RenderRequest) -> ModelPlan:
    from ..model.config import require_base, resolve_model_paths

    pairs = [parse_lora(s) for s in req.loras]
    paths = resolve_model_paths(req.base, pairs[0][0] if pairs else None)
    if not pairs and paths.lora is not None:
        pairs = [parse_lora(paths.lora)]
    demo = paths.base is None
    if demo:  # nothing configured: the embedded demo model (sigmascene/demo), its own SIGMA LoRA first
        from ..demo.select import demo_model_paths

        if req.transformer:
            raise ConfigError("--transformer replaces the transformer of a base model, but no base is given",
                              hint="pass --base DIR for the other components (VAE, text encoders, scheduler)")
        paths = demo_model_paths(paths)
        pairs = [(paths.lora, 1.0)] if paths.lora is not None else []
    base = require_base(paths)
    for path, _ in pairs:
        check_lora_file(path)
    loras = tuple(LoraChoice(path, weight, recognise(read_header(path))) for path, weight in pairs)
    transformer = Path(req.transformer).expanduser() if req.transformer else None
    if transformer is not None and transformer.is_dir():
        raise ConfigError(f"--transformer {transformer} is a folder; pass the single transformer file",
                          hint="a .safetensors or .gguf Kontext transformer; a diffusers folder goes to --base")
    if transformer is not None and not transformer.is_file():
        raise ConfigError(f"transformer file {transformer} does not exist",
                          hint="pass a single-file Flux Kontext transformer (.safetensors) or a .gguf file")
    return ModelPlan(base=base, base_source=paths.base_source, loras=loras, lora_source=paths.lora_source,
                     transformer=transformer, demo=demo, device=req.device, dtype=req.dtype, offload=req.offload,
                     vae_tiling=req.vae_tiling)


def resolve_plan(req: RenderRequest, scene: "Scene | None" = None, loaded: ModelPlan | None = None) -> RenderPlan:
    """The whole plan. Without a scene (loading a model ahead of renders) the seeds are empty and the size None;
    with one, the seeds are the request's (else the scene's `seed`) and the batch after it, and the size is the
    scene's canvas (the demo model's own canvas for the demo). `loaded`: see `resolve_model`."""
    model, spec, notes = resolve_model(req, loaded)
    seeds: tuple[int, ...] = ()
    size = None
    insertion = False
    if scene is not None:
        seeds = resolve_seeds(req, scene)
        size = (scene.canvas.width, scene.canvas.height)
        if model.demo:
            from ..demo import DEMO_CANVAS

            size = demo_size(size, DEMO_CANVAS)
        insertion = scene.background is not None
        if spec.grid and not model.demo:
            size, said = grid_size(size, spec)
            notes += (said,) if said else ()
    steps = req.steps or (_demo_steps() if model.demo else DEFAULT_STEPS)
    guidance = spec.default_guidance if req.guidance is None else float(req.guidance)
    segmenter, detector = check_cutout_models(req.segmenter, req.detector)
    return RenderPlan(model=model, method=spec.name, insertion=insertion, seeds=seeds, steps=steps,
                      guidance=guidance, size=size, prompt_mode=req.prompt_mode,
                      cache_conditions=req.cache_conditions, identity_size=req.identity_size,
                      blend_margin=req.blend_margin, feather=req.feather, output_type=req.output_type,
                      mode=req.mode, notes=notes, segmenter=segmenter, detector=detector)


def grid_size(size: tuple[int, int], spec: MethodSpec) -> tuple[tuple[int, int], str | None]:
    """The canvas on the method's pixel grid (nearest multiple, at least one cell) and the note that says so."""
    g = spec.grid or 1
    w, h = size
    nw, nh = (max(g, int(round(v / g)) * g) for v in (w, h))
    if (nw, nh) == (w, h):
        return size, None
    return (nw, nh), (f"the {spec.name} method renders on a {g}-px grid: canvas {w}x{h} rounded to {nw}x{nh} "
                      "(layout scaled with it)")


def resolve_seeds(req: RenderRequest, scene: "Scene") -> tuple[int, ...]:
    """One image per seed: the request's list, else its seed (the scene's `seed` when none) and the batch after it.
    The one place a missing seed falls back to the scene's."""
    check_request(req)
    first = scene.seed if req.seed is None else req.seed
    seeds = tuple(req.seeds) or tuple(first + k for k in range(req.batch))
    if seed_problem(seeds[-1]):
        raise ConfigError(f"--batch {req.batch} from seed {first} runs past the largest seed",
                          hint="start from a smaller seed")
    return seeds


def demo_size(size: tuple[int, int], demo_canvas: tuple[int, int]) -> tuple[int, int]:
    """The scene's canvas fitted into the demo model's, aspect kept, whole tokens."""
    (w, h), (dw, dh) = size, demo_canvas
    if (w, h) == (dw, dh):
        return size
    scale = min(dw / w, dh / h)
    nw, nh = (max(16, int(round(v * scale / 16)) * 16) for v in (w, h))
    return nw, nh


def _demo_steps() -> int:
    from ..demo import DEMO_STEPS

    return DEMO_STEPS
