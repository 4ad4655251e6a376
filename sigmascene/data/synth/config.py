"""The settings that decide a synthetic dataset's content: saved beside it so a resumed run cannot mix worlds."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...core.vocab import MAX_SUBJECTS

# Bump when the generator changes what a (seed, index) pair produces: resuming across versions would mix worlds.
WORLD_VERSION = 2
CONFIG_FILE = "synth.json"


class SynthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(0, ge=0)  # numpy's SeedSequence takes no negative seed (it was a traceback)
    size: int = Field(256, ge=32, le=2048)
    min_subjects: int = Field(1, ge=1, le=MAX_SUBJECTS)
    max_subjects: int = Field(10, ge=1, le=MAX_SUBJECTS)
    identity_size: Optional[int] = Field(None, ge=32, le=2048)  # None: same as `size`
    identities: int = Field(0, ge=0)  # 0: every subject a fresh identity (as in SET27K); K: draw from a pool of K
    min_visible_px: Optional[int] = None  # None: 0.15 % of the image, at least 12 pixels
    world_version: int = WORLD_VERSION

    @model_validator(mode="after")
    def _range(self) -> "SynthConfig":
        if self.min_subjects > self.max_subjects:
            raise ValueError(f"subjects range {self.min_subjects}-{self.max_subjects} is empty")
        if self.identities and self.identities < self.max_subjects:
            raise ValueError(f"an identity pool of {self.identities} cannot fill {self.max_subjects} distinct subjects")
        return self

    @property
    def ident_size(self) -> int:
        return self.identity_size or self.size

    @property
    def min_pixels(self) -> int:
        if self.min_visible_px is not None:
            return self.min_visible_px
        return max(12, round(0.0015 * self.size * self.size))


def sample_id(index: int) -> str:
    return f"{index:06d}"
