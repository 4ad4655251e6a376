"""Whose weights scored this table: the setup the paper's numbers come from, tiny random stand-ins, or another
model. A table scored by `eval tiny-weights` backbones printed DINO-I 95.83 right above the paper's 74.54, and
the only caveat was in the docs; the table now says so itself, and the paper's rows stand only beside scores
from the same backbones.

Read from each folder's `config.json` (and the MUSIQ file's name), never by loading a model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .weights import BACKBONES, Weights

#: The documented eval.toml (docs/eval.md) — the backbones behind the paper's metrics — by config signature:
#: key -> (model_type, {dotted config field: value}).
PAPER_SETUP: dict[str, tuple[str, dict[str, Any]]] = {
    "dino": ("dinov2", {"hidden_size": 768, "num_hidden_layers": 12}),  # facebook/dinov2-base
    "siglip": ("siglip", {"vision_config.hidden_size": 1152, "vision_config.patch_size": 14}),  # so400m-patch14-384
    "depth": ("depth_anything", {"backbone_config.hidden_size": 1024}),  # Depth-Anything-V2-Large-hf
    "clip": ("clip", {"vision_config.hidden_size": 768, "vision_config.patch_size": 16}),  # clip-vit-base-patch16
}
TINY_WIDTH = 128  # no real backbone is this narrow; `eval tiny-weights` writes 32-wide ones


def _field(cfg: dict, dotted: str) -> Any:
    value: Any = cfg
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _width(cfg: dict) -> int | None:
    for dotted in ("hidden_size", "vision_config.hidden_size", "backbone_config.hidden_size"):
        w = _field(cfg, dotted)
        if isinstance(w, int):
            return w
    return None


def kind(key: str, path: Path | None) -> str | None:
    """'paper', 'tiny' or 'other' for one backbone; None when it is not given."""
    if path is None:
        return None
    if key == "musiq":
        return "paper" if "musiq_koniq" in path.name else "other"
    try:
        cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "other"
    width = _width(cfg)
    if width is not None and width < TINY_WIDTH:
        return "tiny"
    model_type, fields = PAPER_SETUP.get(key, ("", {}))
    if cfg.get("model_type") == model_type and all(_field(cfg, f) == v for f, v in fields.items()):
        return "paper"
    return "other"


def caveat(weights: Weights) -> str | None:
    """The heading line a table scored with `weights` must carry, or None when every backbone given is the paper's
    setup (then, and only then, the paper's rows may stand beside the scores)."""
    kinds = {key: kind(key, weights.path(key)) for key in BACKBONES}
    tiny = [k for k, v in kinds.items() if v == "tiny"]
    other = [k for k, v in kinds.items() if v == "other"]
    if tiny:
        return (f"TINY RANDOM WEIGHTS ({', '.join(tiny)}): a smoke test of the plumbing; these numbers mean nothing "
                "and are not comparable with the paper's")
    if other:
        return (f"not the paper's backbones ({', '.join(f'{k}: {weights.path(k)}' for k in other)}): compare rows "
                "of this table with each other, not with the paper's numbers")
    return None
