"""What a render is asked for, as one plain record: the CLI, the editor and the eval runner fill it in, `render_scene`
acts on it and the sidecar (rendering/provenance.py) writes it down. Its own module because both of those read it and
neither should import the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RenderOptions:
    base: str | None = None          # None: env SIGMASCENE_BASE / config file / the embedded demo model
    loras: list[str] = field(default_factory=list)   # "path" or "path:weight"
    transformer: str | None = None   # single-file / GGUF transformer
    steps: int | None = None
    guidance: float = 2.5
    seed: int | None = None
    mode: str = "single"             # single | iterative
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
