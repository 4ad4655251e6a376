"""Whether to fuse ContextGen's rank-512 LoRA into the base weights, and doing it.

Unfused (PEFT layers, as ContextGen's inference runs it) the adapter holds 1.85 G parameters (3.45 GiB in bf16)
on FLUX.1 Kontext [dev] and adds 24% multiply-adds to every layer it adapts; fused (W + BA, diffusers'
`fuse_lora`, then the adapter's own tensors freed) both costs are gone, and on the tiny model the final latents
move by 8e-8 relative (fp32; benchmarks/contextgen_fuse.py). So it is fused where memory and speed matter — on a
GPU with plain floating-point base weights — and kept as PEFT layers otherwise: on the CPU (where the run is a
check against ContextGen's own code, so its structure is kept) and on GGUF or fp8 storage (fusing would have to
requantize the merged weights, losing the adapter's precision).
"""

from __future__ import annotations

from typing import Any


def fuse_decision(pipe: Any) -> tuple[bool, str]:
    """(fuse?, the reason in a few words) for the pipeline's transformer and device."""
    if pipe._execution_device.type != "cuda":
        return False, "kept as PEFT layers (not on a GPU: ContextGen's own structure, exactly)"
    for p in pipe.transformer.parameters():
        if type(p).__name__ == "GGUFParameter" or "float8" in str(p.dtype):
            return False, "kept as PEFT layers (GGUF / fp8 base weights: fusing would requantize them)"
    return True, "fused into the base weights (saves 3.45 GiB and 24% of the adapted layers' multiply-adds)"


def fuse_adapter(pipe: Any, adapter_name: str) -> None:
    """Fuse one adapter at scale 1; when it is the only one, free its tensors too (diffusers' fuse-then-unload)."""
    pipe.fuse_lora(components=["transformer"], lora_scale=1.0, adapter_names=[adapter_name])
    if list(getattr(pipe.transformer, "peft_config", {}) or {}) == [adapter_name]:
        pipe.unload_lora_weights()
