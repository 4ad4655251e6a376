"""Choosing the demo model when no base is configured, and saying when a scene is outside what it knows.

The demo model was trained only on the synthetic world: rooms at 64x64 px whose subjects' identity images are
objects rendered on a pure white background. So "far from the toy world" is judged with one cheap statistic
of each reference image, its **white-border fraction**: the share of pixels in the outer frame (1/16 of the
side, at least 1 px) whose darkest channel is ≥ 230. Every synthetic identity image scores ≈ 1 (the object is
centred on white; over the first 3000 training samples the lowest is 0.996); a photo, or a drawing on a
coloured ground, scores far lower. It checks the background only: a flat drawing on white passes. A reference below
FAR_THRESHOLD gets a warning; the scene still renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, SigmaError
from ..model.config import ModelPaths
from . import DEMO_CANVAS, demo_paths, require_demo

#: References whose white-border fraction is below this are "far from the toy world".
FAR_THRESHOLD = 0.97
WHITE = 230


def white_border_fraction(rgb: np.ndarray) -> float:
    """Share of the outer-frame pixels (1/16 of each side) that are near-white in every channel."""
    arr = np.asarray(rgb)
    if arr.ndim == 2:
        arr = arr[..., None]
    h, w = arr.shape[:2]
    b = max(1, min(h, w) // 16)
    frame = np.concatenate([arr[:b].reshape(-1, arr.shape[2]), arr[-b:].reshape(-1, arr.shape[2]),
                            arr[b:-b, :b].reshape(-1, arr.shape[2]), arr[b:-b, -b:].reshape(-1, arr.shape[2])])
    return float((frame[:, :3].min(axis=1) >= WHITE).mean()) if frame.size else 0.0


def demo_model_paths(paths: ModelPaths) -> ModelPaths:
    """The demo's base and LoRA in place of an unset base; a LoRA without a base is refused (it was trained
    for some other base, and the demo LoRA only fits the demo base)."""
    if paths.base is not None:
        return paths
    if paths.lora is not None:
        where = {"flag": "--lora", "env": "SIGMASCENE_LORA", "config": "the config file"}.get(paths.lora_source, "")
        raise ConfigError(f"a LoRA was given ({where}) but no base model", hint="pass --base DIR for that LoRA's base, "
                         "or drop --lora to render with the embedded demo model")
    base, lora = require_demo()
    return ModelPaths(base, lora, "demo", "demo")


def demo_notes(scene: Any) -> list[str]:
    """One-line warnings about a scene the demo model will render poorly: references far from its world. (Another
    canvas is not one: `render_scene` renders any scene at the demo canvas and says so.)"""
    from ..compiler.assets import load_rgb

    notes = []
    far = []
    for s in scene.subjects:
        try:
            score = white_border_fraction(load_rgb(scene.resolve(s.ref), None))
        except SigmaError:
            continue  # the compiler has already reported a missing or broken reference
        if score < FAR_THRESHOLD:
            far.append(f"{s.name} ({score:.2f})")
    if far:
        notes.append("warning: the demo model only knows the synthetic world (objects on white); these references "
                     f"look far from it, white-border fraction < {FAR_THRESHOLD}: {', '.join(far)}. The scene renders "
                     "anyway; pass --base/--lora for real images")
    return notes


def demo_banner() -> str:
    base, _ = demo_paths()
    return (f"no base model configured: rendering with the embedded demo model ({DEMO_CANVAS[0]}x{DEMO_CANVAS[1]}, "
            f"synthetic world only, {Path(base).parent}); --base/--lora for Flux Kontext + SIGMA")
