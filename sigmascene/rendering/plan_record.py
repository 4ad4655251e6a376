"""The resolved plan as plain frozen records: what plan.py decides and every method entry reads (method.py's
MethodCall holds one). Their own module because the method contract and the resolver both need them, and the
resolver also reads the method table: keeping the records apart keeps the three out of a circle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LoraChoice:
    path: Path
    weight: float
    kind: str           # lora_kinds: sigma | style | unknown | a kind a method registered


@dataclass(frozen=True)
class ModelPlan:
    """Which weights to load and how; equal plans load the same pipeline (the editor keys its cache on it)."""

    base: Path
    base_source: str    # flag | env | config | demo
    loras: tuple[LoraChoice, ...]
    lora_source: str
    transformer: Path | None
    demo: bool
    device: str = "auto"
    dtype: str = "auto"
    offload: str | None = None
    vae_tiling: bool = False

    @property
    def lora_pairs(self) -> list[tuple[Path, float]]:
        return [(lo.path, lo.weight) for lo in self.loras]


@dataclass(frozen=True)
class RenderPlan:
    model: ModelPlan
    method: str
    insertion: bool                  # the scene has a `background` photo
    seeds: tuple[int, ...]           # one image per seed (empty when resolved without a scene)
    steps: int
    guidance: float
    size: tuple[int, int] | None     # (width, height) rendered: the demo model renders at its own canvas
    prompt_mode: str = "auto"
    cache_conditions: bool = False
    identity_size: tuple[int, int] | None = None
    blend_margin: int | None = None
    feather: int | None = None
    output_type: str = "pil"
    segmenter: Path | None = None    # cut-outs by a segmentation model (collage): checked folders
    detector: Path | None = None
    mode: str = "single"             # the old spelling the request used (recorded in the sidecar)
    notes: tuple[str, ...] = ()      # what the resolver decided that the user should hear, one line each
