"""The generation half: SigmaPipeline on Flux Kontext components, its token layout and LoRA files.

Names resolve lazily so that importing `sigmascene.model` (or the CLI) does not import torch and diffusers.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "SigmaPipeline": "pipeline", "SigmaPipelineOutput": "output", "LoraKeysWarning": "adapters",
    "BlendCallback": "iterative", "load_transformer": "single_file", "read_lora_info": "lora",
    "TokenLayout": "layout", "make_layout": "layout", "pack_latents": "layout", "unpack_latents": "layout",
    "sequence_ids": "layout", "encode_conditions": "layout",
    "ConditionCache": "attention", "condition_attention_mask": "attention",
    "sigma_forward": "forward", "build_condition_cache": "forward",
    "LoraInfo": "lora", "save_sigma_lora": "lora", "load_sigma_lora": "lora", "read_sigma_lora": "lora",
    "resolve_model_paths": "config", "load_pipeline": "loading",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
