"""The pipeline's output class, on its own so the iterative baseline and the pipeline both import it without
importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diffusers.utils import BaseOutput


@dataclass
class SigmaPipelineOutput(BaseOutput):
    """`images`: PIL list, numpy array or packed latents (per `output_type`); `timings`: seconds per stage."""

    images: Any
    timings: dict[str, float] = field(default_factory=dict)
