"""Each metric proven before it judges a model: ground truth must score near 100 %, shuffled identities near chance.

The ground-truth image is the generator's own target. "Shuffled" keeps that image and every region but judges
it against the identity images of *other* held-out scenes (as many as the scene has subjects, drawn at random):
nothing links a region to its reference any more, so every decision is a guess and should land on its chance
level — 1/N for identity, 1/2 for occlusion and placement. (Permuting a scene's own references among its
subjects, or swapping regions, is the sharper within-scene version; the tests check those on constructed
scenes. Within a scene they mostly produce *wrong* answers rather than guesses — a swap makes occlusion 0 %,
not 50 % — so they do not show where chance lies.)

A metric that passes both is measuring what it claims, on this world, with this descriptor.

With a model loaded, a third reference is measured: the ground truth sent through the model's own VAE at the
model's canvas (resize, encode, decode — `vae_round_trip`). A transformer that predicted the ground truth's
latents exactly would score that, so it is the ceiling *this model* can reach, and the gap between it and the
ground truth is what the canvas size and the VAE cost, not the transformer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from .metrics import METRICS, Regions, SceneScore, score_image
from .world import ToyScene

if TYPE_CHECKING:
    from ...model.pipeline import SigmaPipeline


@dataclass
class Validation:
    """Per subject count N: the ground truth's and the shuffled inputs' scores, and the identity chance level."""

    truth: dict[int, SceneScore] = field(default_factory=dict)
    shuffled: dict[int, SceneScore] = field(default_factory=dict)
    chance: dict[int, list[float]] = field(default_factory=dict)  # identity chance 1/N per decision
    round_trip: dict[int, SceneScore] = field(default_factory=dict)  # ground truth through the model's VAE

    def add(self, n: int, truth: SceneScore, shuffled: SceneScore, n_decisions: int, n_subjects: int) -> None:
        self.truth.setdefault(n, SceneScore()).merge(truth)
        self.shuffled.setdefault(n, SceneScore()).merge(shuffled)
        self.chance.setdefault(n, []).extend([1.0 / n_subjects] * n_decisions)

    def add_round_trip(self, n: int, score: SceneScore) -> None:
        self.round_trip.setdefault(n, SceneScore()).merge(score)

    def chance_rate(self, n: int, metric: str) -> float:
        if metric == "identity":
            c = self.chance.get(n) or [1.0 / n]
            return float(np.mean(c))
        return 0.5

    def overall(self, which: str) -> SceneScore:
        out = SceneScore()
        for s in getattr(self, which).values():
            out.merge(s)
        return out


def validate_scene(scene: ToyScene, regions: Regions,
                   foreign: Optional[Sequence[np.ndarray]]) -> tuple[SceneScore, SceneScore]:
    """(ground truth score, shuffled score) of one scene's target image; `foreign` = other scenes' identity
    images, one per subject (None: no shuffled decisions, e.g. a one-scene run)."""
    truth = score_image(scene.image, scene, regions)
    shuffled = SceneScore() if foreign is None else score_image(scene.image, scene, regions, identities=foreign)
    return truth, shuffled


def vae_round_trip(pipe: "SigmaPipeline", image: np.ndarray, size: int) -> Any:
    """`image` as the model would give it back at best: resized to its `size` canvas, VAE-encoded the way the
    pipeline encodes (posterior mode, shifted and scaled) and decoded the way the pipeline decodes."""
    import torch
    from PIL import Image

    from ...model.layout import encode_image_latents, pack_latents, prepare_condition_image

    side = pipe.vae_scale_factor * 2
    if size % side:
        raise ValueError(f"canvas {size} px is not a multiple of {side} px")
    small = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB").resize((size, size),
                                                                                     Image.Resampling.LANCZOS)
    with torch.no_grad():
        latents = pack_latents(encode_image_latents(pipe.vae, prepare_condition_image(small)))
        return pipe.decode_latents(latents, (size // side, size // side), "pil")[0]


def foreign_identities(pool: Sequence[Sequence[Any]], index: int, n: int, rng: np.random.Generator) -> Optional[list]:
    """`n` identity images drawn from every scene of `pool` but scene `index`; None when there are too few."""
    others = [img for j, imgs in enumerate(pool) if j != index for img in imgs]
    if len(others) < n:
        return None
    return [others[i] for i in rng.choice(len(others), size=n, replace=False)]


def validation_rows(v: Validation) -> list[dict]:
    """One row per N (and an `all` row): ground truth, shuffled and chance for each metric, in percent."""
    rows = []
    keys = sorted(v.truth) + ["all"]
    for n in keys:
        truth = v.truth[n] if not isinstance(n, str) else v.overall("truth")  # n: a subject count, or "all"
        shuf = v.shuffled[n] if not isinstance(n, str) else v.overall("shuffled")
        trip = v.round_trip.get(n) if not isinstance(n, str) else (v.overall("round_trip") if v.round_trip else None)
        row: dict = {"N": n}
        for m in METRICS:
            t, s = getattr(truth, m), getattr(shuf, m)
            if isinstance(n, str):  # the "all" row
                chance = float(np.mean([c for cs in v.chance.values() for c in cs])) if m == "identity" and any(
                    v.chance.values()) else 0.5
            else:
                chance = v.chance_rate(n, m)
            row[f"{m}_truth"] = _pct(t.rate)
            row[f"{m}_shuffled"] = _pct(s.rate)
            row[f"{m}_vae"] = None if trip is None else _pct(getattr(trip, m).rate)
            row[f"{m}_chance"] = _pct(chance)
            row[f"{m}_decisions"] = t.total
        rows.append(row)
    return rows


def _pct(rate: float | None) -> float | None:
    return None if rate is None else round(100.0 * rate, 1)
