"""The contract between the render call and a method: what a method declares (MethodSpec), what each of its entries
receives (MethodCall) and returns (MethodOutput).

A method is one way of turning a compiled scene into pixels with the loaded components: `sigma` (one pass, the
SIGMA LoRA reads I_C and I_S), `iterative` (the baseline, one subject per pass), `collage` (stock Kontext reads one
layout image). Each has an entry for a plain scene and one for a scene inserted into a `background` photo; the
table of entries is rendering/methods.py. The resolver (plan.py) checks a request against the spec before anything
loads, so an entry only renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    import torch

    from ..model.pipeline import SigmaPipeline
    from ..scene.compiled import CompiledScene
    from .plan import RenderPlan

#: Request fields only some methods honour, with the spelling a user typed them in.
METHOD_FLAGS = {"cache_conditions": "--cache-conditions", "segmenter": "--segmenter", "detector": "--detector"}


@dataclass(frozen=True)
class MethodSpec:
    name: str
    summary: str                                   # one line, for `--help` and did-you-mean messages
    own_lora: str | None = None                    # the LoRA kind it needs one of (None: runs on the stock base)
    extra_loras: frozenset[str] = frozenset({"style", "unknown"})  # kinds it may stack on top (looks, styles)
    flags: frozenset[str] = frozenset()            # which METHOD_FLAGS it honours
    output_types: tuple[str, ...] = ("pil", "np", "latent")
    grid: int | None = None                        # px the canvas must be a multiple of (rounded, with a note)
    default_guidance: float = 2.5                  # the distilled guidance when the request names none


StepEnd = Callable[[Any, int, Any, dict], dict]   # diffusers' callback_on_step_end(pipe, i, t, tensors)


@dataclass
class MethodCall:
    """Everything one render of one seed needs; an entry reads it and calls the pipeline."""

    plan: "RenderPlan"
    pipe: "SigmaPipeline"            # the loaded components (VAE, text encoders, transformer with the plan's LoRAs)
    compiled: "CompiledScene"        # at the plan's size (the demo's canvas for the demo model)
    seed: int
    generator: "torch.Generator"     # seeded with `seed`, on the CPU (diffusers' convention for reproducible noise)
    progress: Callable[[int, int], None] | None = None   # (step, total) after every denoising step
    step_end: StepEnd | None = None  # the caller's callback_on_step_end: sets pipe._interrupt when cancelled
    note: Callable[[str], None] | None = None
    feather: int | None = None       # insertion: px of seam into the photo (resolved: never None when inserting)

    @property
    def output_type(self) -> str:
        return self.plan.output_type


@dataclass
class MethodOutput:
    """`images`: PIL images (output_type pil), an N x H x W x 3 float array (np), or the final packed latents
    (B, tokens, channels) before decoding (latent), as diffusers pipelines return them."""

    images: Any
    timings: dict[str, float] = field(default_factory=dict)
    sidecar: dict[str, Any] = field(default_factory=dict)   # method facts for the sidecar (e.g. the instruction)
    files: dict[str, Any] = field(default_factory=dict)     # suffix -> PIL image written beside the render


class MethodEntry(Protocol):
    def __call__(self, call: MethodCall) -> MethodOutput: ...
