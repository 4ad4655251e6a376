"""The subject-count curriculum and the sampler that follows it, resumable and sharded across ranks.

SIGMA-GEN trains easy scenes first: 30k steps on at most 4 subjects, then 20k on at least 3, then 20k on more
than 4, because crowded scenes are the long tail of the data and a model that cannot yet place two subjects learns
nothing from ten. The sampler only draws samples whose subject count fits the current stage.

The sampler is a pure function of (seed, stage, epoch, position, rank): each stage shuffles its eligible samples
once per epoch with a seed of its own, every rank walks its own equally long slice of that permutation, and the
whole state is three integers. That is what makes resuming exact and multi-GPU runs draw disjoint data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import SigmaError


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str = ""
    steps: int = Field(..., ge=1)
    min_subjects: int = Field(1, ge=1)
    max_subjects: Optional[int] = Field(None, ge=1)  # None: no upper bound

    @model_validator(mode="after")
    def _range(self) -> "Stage":
        if self.max_subjects is not None and self.max_subjects < self.min_subjects:
            raise ValueError(f"stage subject range {self.min_subjects}..{self.max_subjects} is empty")
        return self

    def admits(self, n_subjects: int) -> bool:
        return n_subjects >= self.min_subjects and (self.max_subjects is None or n_subjects <= self.max_subjects)

    def subjects(self) -> str:
        if self.max_subjects is None:
            return f">={self.min_subjects}"
        if self.max_subjects == self.min_subjects:
            return f"{self.min_subjects}"
        return f"{self.min_subjects}-{self.max_subjects}"


#: The paper's recipe: 30k steps on <= 4 subjects, 20k on >= 3, 20k on > 4.
PAPER_STAGES = (
    Stage(name="1", steps=30_000, min_subjects=1, max_subjects=4),
    Stage(name="2", steps=20_000, min_subjects=3),
    Stage(name="3", steps=20_000, min_subjects=5),
)


class Curriculum:
    def __init__(self, stages: Sequence[Stage]):
        if not stages:
            raise SigmaError("the curriculum needs at least one stage")
        self.stages = list(stages)
        self.ends = list(np.cumsum([s.steps for s in self.stages]))

    @property
    def total_steps(self) -> int:
        return int(self.ends[-1])

    def stage_index(self, step: int) -> int:
        """Stage of optimizer step `step` (0-based: the step about to run); the last stage past the end."""
        for i, end in enumerate(self.ends):
            if step < end:
                return i
        return len(self.stages) - 1

    def stage_end(self, index: int) -> int:
        return int(self.ends[index])

    def label(self, index: int) -> str:
        """`stage 2/3 (>=3 subjects)`; a named stage shows its name instead of its number."""
        s = self.stages[index]
        name = s.name if s.name and not s.name.isdigit() else f"{index + 1}/{len(self.stages)}"
        return f"stage {name} ({s.subjects()} subjects)"

    def eligible(self, index: int, counts: Sequence[int]) -> np.ndarray:
        stage = self.stages[index]
        return np.array([i for i, n in enumerate(counts) if stage.admits(int(n))], dtype=np.int64)

    def check(self, counts: Sequence[int], *, where: str = "the dataset") -> None:
        """Every stage must have samples to draw from: found now, not 30k steps in."""
        empty = [i for i in range(len(self.stages)) if len(self.eligible(i, counts)) == 0]
        if empty:
            have = f"{min(counts)}..{max(counts)}" if len(counts) else "none"
            raise SigmaError(f"{where} has no sample for curriculum {', '.join(self.label(i) for i in empty)}; "
                             f"its samples have {have} subjects",
                             hint="change `curriculum.stages` (e.g. --set curriculum.stages.2.min_subjects=2) "
                                  "or add samples with more subjects")


@dataclass
class SamplerState:
    stage: int = 0
    epoch: int = 0
    position: int = 0

    def to_json(self) -> dict:
        return {"stage": self.stage, "epoch": self.epoch, "position": self.position}

    @classmethod
    def from_json(cls, d: dict) -> "SamplerState":
        return cls(int(d["stage"]), int(d["epoch"]), int(d["position"]))


class StageSampler:
    """Sample indices for the current stage: an epoch-wise shuffle of the eligible samples, one slice per rank.

    Every rank's slice has the same length (ceil(n / world), wrapping around), so all ranks reach the end of an
    epoch together and share one (stage, epoch, position) state, which rank 0 saves in checkpoints.
    """

    def __init__(self, curriculum: Curriculum, counts: Sequence[int], *, seed: int, rank: int = 0, world: int = 1,
                 state: SamplerState | None = None):
        curriculum.check(counts)
        self.curriculum, self.counts = curriculum, list(counts)
        self.seed, self.rank, self.world = int(seed), int(rank), int(world)
        self.state = state or SamplerState()
        self._cache: tuple[tuple[int, int], np.ndarray] | None = None

    def shard(self, stage: int, epoch: int) -> np.ndarray:
        key = (stage, epoch)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        pool = self.curriculum.eligible(stage, self.counts)
        perm = np.random.default_rng([self.seed, 0x5A3, stage, epoch]).permutation(pool)
        per_rank = math.ceil(len(perm) / self.world)
        shard = perm[(self.rank + self.world * np.arange(per_rank)) % len(perm)]
        self._cache = (key, shard)
        return shard

    def next(self, stage: int) -> int:
        """The next sample index for `stage`; entering a new stage starts its own first epoch."""
        st = self.state
        if stage != st.stage:
            self.state = st = SamplerState(stage=stage)
        shard = self.shard(st.stage, st.epoch)
        if st.position >= len(shard):
            st.epoch, st.position = st.epoch + 1, 0
            shard = self.shard(st.stage, st.epoch)
        idx = int(shard[st.position])
        st.position += 1
        return idx
