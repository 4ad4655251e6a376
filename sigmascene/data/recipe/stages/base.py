"""What every stage is: load its model(s) once, process a batch of samples, release the GPU.

A stage never sees the engine: the one-machine loop and the Ray actor both call `process` on lists of `Work`
built from the store, which is why the two produce the same dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..config import BuildConfig
from ..models import ModelRef
from ..store import Outcome, Stored


class StagePlan(Protocol):
    """What a stage reads of the build plan: its config and the resolved model folders. A protocol rather than
    plan.Plan itself, since the plan builds the stages and a stage must not import its builder back."""

    cfg: BuildConfig
    refs: dict[str, list[ModelRef]]


@dataclass
class Work:
    index: int
    sample_id: str
    seed: int  # this stage's seed for this sample
    inputs: dict[str, Stored]  # finished upstream stage outputs, by stage name

    @property
    def scene(self) -> dict[str, Any]:
        return self.inputs["prompts"].data


class Stage:
    name = ""

    def __init__(self, plan: StagePlan):
        self.plan = plan
        self.cfg = plan.cfg
        self.section = plan.cfg.stage(self.name)
        self.loaded = False

    def load(self) -> None:
        """Load the model(s); called once, only when there is something to do."""

    def process(self, works: list[Work]) -> list[Outcome]:
        raise NotImplementedError

    def close(self) -> None:
        """Drop the model(s) and give the GPU memory back before the next stage loads."""
        import gc

        for attr in list(vars(self)):
            if attr.startswith("m_"):
                setattr(self, attr, None)
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
        self.loaded = False

    # helpers shared by the model stages
    def device_dtype(self) -> tuple[Any, Any]:
        from ....model.loading import compute_dtype, resolve_device

        dev = resolve_device(self.cfg.build.device)
        return dev, compute_dtype(getattr(self.section, "dtype", "auto"), dev)

    def generator(self, seed: int):
        import torch

        return torch.Generator(device="cpu").manual_seed(int(seed))
