"""The pipeline's output class, on its own so the iterative baseline and the pipeline both import it without
importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from diffusers.utils import BaseOutput


@dataclass
class SigmaPipelineOutput(BaseOutput):
    """`images`: PIL list, numpy array or packed latents (per `output_type`); `timings`: seconds per stage."""

    images: Any
    timings: dict[str, float] = field(default_factory=dict)


class SigmaPipelineLike(Protocol):
    """What the per-subject and insertion passes (iterative.py, insert.py) use of a SigmaPipeline. They take this
    protocol rather than the class because pipeline.py dispatches to them: importing the class back would close an
    import circle, even for a type hint."""

    vae: Any
    transformer: Any
    scheduler: Any
    vae_scale_factor: int

    @property
    def encode_prompt(self) -> Callable[..., Any]: ...

    @property
    def __call__(self) -> Callable[..., Any]: ...

    @property
    def interrupt(self) -> bool: ...

    @property
    def _execution_device(self) -> Any: ...

