"""Which model the toy-world eval renders with, and the canvas, steps and training seeds that come with it.

The embedded demo model (`sigmascene.demo`) is the default: it knows the synthetic world, its canvas and step
count, and the world seeds it was trained on (which the eval must avoid). `--base/--lora` evaluate any other
model; then canvas and steps come from the flags and nothing is known about its training seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ...errors import ConfigError, ModelError

if TYPE_CHECKING:
    from ...rendering.render import LoadedModel
    from ...rendering.request import RenderRequest

DEFAULT_SIZE = 256
DEFAULT_STEPS = 28


@dataclass
class ModelChoice:
    name: str  # method prefix in renders/
    size: int
    steps: int
    train_seeds: Optional[list[int]]
    base: Optional[Path] = None
    lora: Optional[Path] = None
    identity: Optional[dict] = None  # written into render sidecars; resuming with another model is refused
    train_world_seed: Optional[int] = None  # the synth world the model was trained on (then train_seeds = indices)


def demo_module() -> Any:
    """`sigmascene.demo` when its weights are present (a source checkout may not have built them), else None."""
    from ... import demo

    return demo if demo.demo_available() else None


def _square(canvas: Any) -> int:
    w, h = (int(v) for v in canvas)
    if w != h:
        raise ModelError(f"the demo canvas {w}x{h} is not square; the synthetic world renders square scenes",
                         hint="pass --size")
    return w


def choose_model(model: str, base: Optional[str], lora: Optional[str], size: Optional[int],
                 steps: Optional[int], need_model: bool = True) -> ModelChoice:
    """Resolve `--model demo` / `--base DIR [--lora FILE]` into a ModelChoice (nothing is loaded yet)."""
    from ...model.lora import check_lora_file
    from ...rendering.render import model_identity

    if base:
        from ...model.config import require_base, resolve_model_paths

        paths = resolve_model_paths(base, lora)
        base_dir = require_base(paths)
        if paths.lora is not None:
            check_lora_file(paths.lora)
        name = (paths.lora.stem if paths.lora is not None else base_dir.name).replace(" ", "_")
        loras = [(paths.lora, 1.0)] if paths.lora is not None else []
        return ModelChoice(name, size or DEFAULT_SIZE, steps or DEFAULT_STEPS, None, base_dir, paths.lora,
                           model_identity(base_dir, loras, base_source=paths.base_source,
                                          lora_source=paths.lora_source))
    if model != "demo":
        raise ConfigError(f"--model {model!r} is not known", hint="use --model demo, or --base DIR [--lora FILE]")
    demo = demo_module()
    if demo is None:
        if need_model:
            raise ModelError("the embedded demo model is not available in this installation",
                             hint="pass --base DIR [--lora FILE] to evaluate another model, or --validate to "
                                  "check the metrics without a model")
        from ...demo import DEMO_CANVAS  # the contract's canvas holds even before the weights are built

        return ModelChoice("demo", size or _square(DEMO_CANVAS), steps or DEFAULT_STEPS, None)
    demo_base, demo_lora = demo.demo_paths()
    ident = model_identity(demo_base, [(demo_lora, 1.0)], base_source="demo", lora_source="demo")
    return ModelChoice("demo", size or _square(demo.DEMO_CANVAS), steps or demo.DEMO_STEPS,
                       list(demo.TRAIN_SEEDS), identity=ident, train_world_seed=demo.TRAIN_WORLD_SEED)


def model_request(choice: ModelChoice, device: Optional[str] = None, dtype: str = "auto",
                  method: Optional[str] = None) -> "RenderRequest":
    """The render request of a choice for one compared method: the demo model when no base is named; a LoRA the
    method cannot use (the SIGMA LoRA beside collage) stays out of that method's request."""
    from ...rendering.plan import loras_for
    from ...rendering.request import RenderRequest

    if choice.base is None and demo_module() is None:
        raise ModelError("the embedded demo model is not available in this installation")
    loras = [str(choice.lora)] if choice.lora is not None else []
    if method is not None and loras:
        loras = loras_for(method, loras)
    return RenderRequest(base=str(choice.base) if choice.base is not None else None, loras=loras, method=method,
                         device=device or "auto", dtype=dtype)


def load_model(choice: ModelChoice, device: Optional[str] = None, dtype: str = "auto",
               method: Optional[str] = None) -> "LoadedModel":
    """The pipeline for a choice, on `device` (default: cuda when present), through the one resolver."""
    from ...rendering.render import load_model as load

    return load(model_request(choice, device, dtype, method))
