"""The embedded demo model: a toy Flux-Kontext-architecture base and its SIGMA LoRA, trained on the synthetic
world and shipped inside the package, so `sigmascene render` works on a fresh machine with no download.

Real images need Flux.1 Kontext [dev] and a SIGMA LoRA trained on it (`--base`, `--lora`). The demo model only
knows the synthetic world (`sigmascene data synth`): procedural objects in procedural rooms at DEMO_CANVAS.
It is small enough (16 MiB) to live in the wheel and fast enough to render on two CPU cores in seconds; how it
was trained and how to rebuild it is in docs/demo.md (scripts/toy/build_demo.sh runs everything).

This module is the contract other parts (`render`, `eval toyworld`, tests) rely on: the constants say what the
weights were trained on, so an evaluation can stay on held-out samples and at the trained size.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelError

if TYPE_CHECKING:
    from ..model.pipeline import SigmaPipeline

#: (W, H) in pixels the demo base and LoRA were trained at; scenes for the demo model should use it.
DEMO_CANVAS: tuple[int, int] = (64, 64)
#: Denoising steps the demo renders with by default (more buys little on a model this small).
DEMO_STEPS: int = 20
#: World seed of `sigmascene data synth` the training data came from (`--seed`).
TRAIN_WORLD_SEED: int = 0
#: Sample indices of world TRAIN_WORLD_SEED used to train the VAE, the base and the LoRA. A held-out
#: evaluation uses another world seed, or indices outside this range.
TRAIN_SEEDS: range = range(3000)

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
BASE_DIR = WEIGHTS_DIR / "base"
LORA_FILE = WEIGHTS_DIR / "sigma_lora.safetensors"

_NOT_BUILT = ("the embedded demo model is not built in this checkout ({missing} is missing)",
              "run `bash scripts/toy/build_demo.sh` (about an hour on 2 CPU cores), or pass --base/--lora")


def demo_paths() -> tuple[Path, Path]:
    """(base diffusers folder, LoRA file) of the shipped demo model, whether or not they exist."""
    return BASE_DIR, LORA_FILE


def _required() -> tuple[Path, Path]:
    """What a built demo has (read from the module globals each time, so tests can point them elsewhere)."""
    return BASE_DIR / "model_index.json", LORA_FILE


def demo_available() -> bool:
    """Whether the shipped weights are present (a source checkout before build_demo.sh has none)."""
    return all(p.is_file() for p in _required())


def require_demo() -> tuple[Path, Path]:
    """The demo paths, or a SigmaError that says how to build them."""
    for p in _required():
        if not p.is_file():
            msg, hint = _NOT_BUILT
            raise ModelError(msg.format(missing=p), hint=hint)
    return BASE_DIR, LORA_FILE


def load_demo_pipeline(device: str | None = "cpu") -> "SigmaPipeline":
    """The demo SigmaPipeline in float32 with its SIGMA LoRA applied, ready for `pipe.render(compiled)`;
    device None picks cuda when present. Loaded by the same code as any other base + LoRA."""
    from ..model.loading import load_pipeline

    base, lora = require_demo()
    return load_pipeline(base, lora, device=device, dtype="fp32")


__all__ = ["DEMO_CANVAS", "DEMO_STEPS", "TRAIN_SEEDS", "TRAIN_WORLD_SEED", "demo_available", "demo_paths",
           "load_demo_pipeline", "require_demo"]
