"""What a render is asked for, as one plain record: the CLI, the editor, `eval run`, `eval toyworld` and
`sigmascene.render` fill it in, and `plan.resolve_plan` turns it into a checked RenderPlan. Nothing here is
checked or decided; every rule lives in the resolver, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OUTPUT_TYPES = ("pil", "np", "latent")


@dataclass
class RenderRequest:
    base: str | None = None          # None: env SIGMASCENE_BASE / config file / the embedded demo model
    loras: list[str] = field(default_factory=list)   # "path" or "path:weight"
    transformer: str | None = None   # single-file / GGUF transformer
    method: str | None = None        # sigma | iterative | collage | ... (None: chosen from the model; plan.py)
    steps: int | None = None
    guidance: float | None = None    # None: the method's default (2.5; contextgen 3.5)
    seed: int | None = None          # None: the scene's `seed`
    seeds: tuple[int, ...] = ()      # an explicit list of seeds (Python); excludes `seed` and `batch`
    mode: str = "single"             # old spelling: `iterative` is `method="iterative"`
    cache_conditions: bool = False
    offload: str | None = None
    dtype: str = "auto"
    vae_tiling: bool = False
    prompt_mode: str = "auto"
    device: str = "auto"
    identity_size: tuple[int, int] | None = None
    batch: int = 1
    blend_margin: int | None = None  # px around the subjects a `background` photo may change (None: 1/64 side)
    feather: int | None = None       # px of seam between the render and the photo (None: 1/128 side)
    output_type: str = "pil"         # pil | np | latent (the packed latents before decoding, as diffusers)
    segmenter: str | None = None     # cut-outs: a SAM-family folder for references with no alpha and no matte
    detector: str | None = None      # cut-outs: a zero-shot detector folder that finds the subject for SAM
