"""A tiny random Flux Kontext folder and a random adapter in ContextGen's exact file format, offline.

The adapter is made the way ContextGen's trainer makes and saves its own (PEFT `add_adapter` with its target
regex and alpha = rank, then `FluxKontextPipeline.save_lora_weights` of `get_peft_model_state_dict`), with random
up-projections so it changes the output. The transformer has two single-stream blocks so both of ContextGen's
masks are used (its switch is at N_single // 2).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..model.contextgen.adapter import TARGET_REGEX
from .tiny_pipeline import make_tiny_components

ADAPTER_FILE = "transformer_00200.safetensors"  # ContextGen's naming: transformer_<step>.safetensors


def make_tiny_contextgen_components(seed: int = 0) -> dict[str, Any]:
    return make_tiny_components(seed, num_layers=1, num_single_layers=2)


def save_tiny_contextgen(directory: str | Path, seed: int = 0) -> Path:
    """Write the tiny base as a diffusers folder (loadable by stock `FluxKontextPipeline.from_pretrained`)."""
    from diffusers import FluxKontextPipeline

    directory = Path(directory)
    pipe: Any = FluxKontextPipeline(**make_tiny_contextgen_components(seed))
    pipe.save_pretrained(directory)
    return directory


def save_contextgen_adapter(transformer: Any, directory: str | Path, *, rank: int = 16, seed: int = 0,
                            scale: float = 0.05, weight_name: str = ADAPTER_FILE) -> Path:
    """A random ContextGen-format LoRA for `transformer` (left untouched), written to directory/weight_name."""
    import torch
    from diffusers import FluxKontextPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    model = copy.deepcopy(transformer)
    model.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=TARGET_REGEX),
                      adapter_name="flux_mig")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * scale)
    layers = get_peft_model_state_dict(model, adapter_name="flux_mig")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    FluxKontextPipeline.save_lora_weights(str(directory), transformer_lora_layers=layers, safe_serialization=True,
                                          weight_name=weight_name)
    return directory / weight_name
