"""ContextGen (nenhang/ContextGen, MIT) reproduced with our own code on the stock diffusers Flux Kontext classes.

ContextGen is a rank-512 LoRA on FLUX.1 Kontext [dev] whose inference feeds the transformer one sequence
[text | main | layout | ref_1 .. ref_n] with two boolean attention masks. This package rebuilds that inference
step by step (prompt template, reference preprocessing, token layout and RoPE ids, masks, the sampling loop) so
its final latents equal theirs; the scene side (which references, boxes and layout a `.sigma` scene hands over)
lives in `sigmascene.rendering`.

Names resolve lazily so importing the package does not import torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "edit_prompt": "prompt",
    "Reference": "inputs", "reference_base_size": "inputs", "uniform_resize_16x": "inputs",
    "round_canvas": "inputs", "load_reference": "inputs", "token_box": "inputs",
    "SequenceLayout": "sequence", "sequence_layout": "sequence", "position_ids": "sequence",
    "attention_masks": "masks",
    "ContextGenAttnProcessor": "attention", "contextgen_processors": "attention",
    "ContextGenPipeline": "pipeline",
    "is_contextgen_lora": "adapter", "contextgen_lora_facts": "adapter",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
