"""The paper's metrics, which backbone each needs, and loading whatever subset the given weights allow.

Loading is separate from scoring so that `sigmascene eval score` can say up front, in one line per metric,
what it will skip and why, then score every case with the backbones it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ...errors import ConfigError, did_you_mean
from ..weights import MissingWeights, Weights, require_model_folder


@dataclass(frozen=True)
class MetricInfo:
    key: str
    label: str
    higher_better: bool
    backbone: str
    level: str  # "subject": one value per subject, averaged per case; "image": one value per image


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("dino_i", "DINO-I", True, "dino", "subject"),
    MetricInfo("siglip_i", "SigLIP-I", True, "siglip", "subject"),
    MetricInfo("siglip_t", "SigLIP-T", True, "siglip", "image"),
    MetricInfo("depth_mse", "MSE", False, "depth", "image"),
    MetricInfo("clip_iqa", "CLIP-IQA", True, "clip", "image"),
    MetricInfo("musiq", "MUSIQ", True, "musiq", "image"),
)
BY_KEY = {m.key: m for m in METRICS}


def metric_keys(only: list[str] | None) -> list[str]:
    """Validate a `--metric` selection (keys or labels, any case) into metric keys in table order."""
    if not only:
        return [m.key for m in METRICS]
    names = {m.key: m.key for m in METRICS} | {m.label.lower(): m.key for m in METRICS}
    wanted = set()
    for item in only:
        key = names.get(item.lower().replace("-", "_")) or names.get(item.lower())
        if key is None:
            raise ConfigError(f"unknown metric '{item}'", hint=did_you_mean(item, list(names)) or
                             f"known: {', '.join(m.key for m in METRICS)}")
        wanted.add(key)
    return [m.key for m in METRICS if m.key in wanted]


@dataclass
class MetricSuite:
    """The loaded backbones; attributes stay None for skipped metrics."""

    dino: Any = None  # IdentityMetric
    siglip_i: Any = None  # IdentityMetric
    siglip_t: Any = None  # TextEmbedder (with its image embedder in siglip_i)
    depth: Any = None  # DepthEstimator
    clip_iqa: Any = None  # ClipIQA
    musiq: Any = None  # Musiq
    skipped: dict[str, str] = field(default_factory=dict)  # metric key -> the one line saying why

    def active(self) -> list[str]:
        have = {"dino_i": self.dino, "siglip_i": self.siglip_i, "siglip_t": self.siglip_t,
                "depth_mse": self.depth, "clip_iqa": self.clip_iqa, "musiq": self.musiq}
        return [k for k, v in have.items() if v is not None]


def load_suite(weights: Weights, only: list[str] | None = None, device: str | None = None,
               on_load: Callable[[str], None] | None = None) -> MetricSuite:
    """Load each selected metric's backbone from its local folder; record a skip line for missing ones.

    A folder that is given but unusable raises SigmaError: the user asked for that metric explicitly."""
    from .depth import DepthEstimator
    from .embed import ImageEmbedder, TextEmbedder
    from .identity import IdentityMetric
    from .quality import ClipIQA, Musiq

    keys = metric_keys(only)
    suite = MetricSuite()
    note = on_load or (lambda _: None)

    def attempt(metric_keys_: list[str], label: str, build: Callable[[], None]) -> None:
        if not any(k in keys for k in metric_keys_):
            return
        try:
            build()
        except MissingWeights as miss:
            for k in metric_keys_:
                if k in keys:
                    suite.skipped[k] = str(miss)

    def dino() -> None:
        folder = require_model_folder(weights, "dino", "DINO-I")
        note(f"DINO-I: {folder}")
        suite.dino = IdentityMetric("dino_i", "DINO-I", ImageEmbedder.dino(folder, device))

    def siglip() -> None:
        wanted = [k for k in ("siglip_i", "siglip_t") if k in keys]
        folder = require_model_folder(weights, "siglip", " and ".join(BY_KEY[k].label for k in wanted))
        note(f"SigLIP: {folder}")
        emb = ImageEmbedder.contrastive(folder, "SigLIP model", device)
        if "siglip_i" in keys:
            suite.siglip_i = IdentityMetric("siglip_i", "SigLIP-I", emb)
        if "siglip_t" in keys:
            suite.siglip_t = TextEmbedder(emb, pad_to_max=True)

    def depth() -> None:
        folder = require_model_folder(weights, "depth", "depth MSE")
        note(f"depth: {folder}")
        suite.depth = DepthEstimator.from_folder(folder, device)

    def clip() -> None:
        folder = require_model_folder(weights, "clip", "CLIP-IQA")
        note(f"CLIP-IQA: {folder}")
        suite.clip_iqa = ClipIQA(ImageEmbedder.contrastive(folder, "CLIP model", device))

    def musiq() -> None:
        suite.musiq = Musiq.from_path(weights.musiq, device)
        note(f"MUSIQ: {weights.musiq}")

    attempt(["dino_i"], "DINO-I", dino)
    attempt(["siglip_i", "siglip_t"], "SigLIP", siglip)
    attempt(["depth_mse"], "MSE", depth)
    attempt(["clip_iqa"], "CLIP-IQA", clip)
    attempt(["musiq"], "MUSIQ", musiq)
    return suite
