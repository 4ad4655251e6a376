"""The model side of training: load Flux Kontext (or the tiny stack), add the LoRA, checkpoint blocks, wrap for DDP.

Everything the forward pass does is the model package's `sigma_forward`, the function inference runs; this module
only prepares the objects it runs on. Two things need care:

* DDP synchronises gradients only for calls through its wrapper's `forward`, while `sigma_forward` walks the
  transformer's blocks itself. `Denoiser` is a module whose forward *is* `sigma_forward`, so accelerate can wrap
  it and gradients are all-reduced across ranks as usual.
* Gradient checkpointing is diffusers' own switch, `transformer.enable_gradient_checkpointing()`, which
  `sigma_forward` honours block by block as `FluxTransformer2DModel.forward` does.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from ..errors import SigmaError
from ..model.loading import TORCH_DTYPES, torch_dtype
from .config import TrainConfig

DTYPES = {name: torch_dtype(name) for name in TORCH_DTYPES}


def load_components(cfg: TrainConfig) -> dict[str, Any]:
    """The seven Flux Kontext components: tiny random weights (`base = "tiny"`) or a local diffusers folder."""
    base = cfg.model.base.strip()
    if base == "tiny":
        from ..testing.tiny_pipeline import make_tiny_components

        return make_tiny_components(cfg.model.tiny_seed)
    from ..model.config import require_base, resolve_model_paths
    from ..model.pipeline import SigmaPipeline

    path = require_base(resolve_model_paths(base=str(cfg.path(base)) if base else None))
    pipe = SigmaPipeline.from_pretrained(path, dtype=DTYPES[cfg.model.weight_dtype])
    return dict(pipe.components)


def lora_targets(transformer: Any, pattern: str) -> list[str]:
    """Names of the Linear layers whose full name matches `pattern`; an empty match is a config error."""
    rx = re.compile(pattern)
    names = [n for n, m in transformer.named_modules() if isinstance(m, torch.nn.Linear) and rx.fullmatch(n)]
    if not names:
        raise SigmaError(f"lora.target matches no Linear layer of the transformer: {pattern!r}",
                         hint="names look like transformer_blocks.0.attn.to_q; the default covers every "
                              "attention and MLP projection")
    return names


def add_lora(transformer: Any, cfg: TrainConfig) -> list[str]:
    """Freeze the base, add a fresh LoRA on the configured layers (fp32 weights), return their names."""
    from peft import LoraConfig

    transformer.requires_grad_(False)
    targets = lora_targets(transformer, cfg.lora.target)
    # Exact names (not suffixes): a bare `proj_out` would also adapt the model's final projection.
    transformer.add_adapter(LoraConfig(r=cfg.lora.rank,
                                       lora_alpha=cfg.lora.alpha,  # type: ignore[arg-type]  # peft says int; float works
                                       lora_dropout=cfg.lora.dropout, target_modules=targets, init_lora_weights=True))
    for p in transformer.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    return targets


def restore_lora(transformer: Any, path: Any, rank: int | None = None) -> None:
    """Load a checkpoint's (or `lora.init`'s) LoRA weights into the already-added adapter (same names, shapes)."""
    from peft.utils import set_peft_model_state_dict

    from ..model.lora import PREFIX, read_sigma_lora

    sd, info = read_sigma_lora(path)
    if rank is not None and info.rank != rank:
        raise SigmaError(f"{path} has rank {info.rank}, this run trains rank {rank}",
                         hint=f"set lora.rank = {info.rank} (and its alpha) to continue that LoRA")
    sd = {k.removeprefix(f"{PREFIX}."): v for k, v in sd.items()}
    result = set_peft_model_state_dict(transformer, sd, adapter_name="default")
    unexpected = getattr(result, "unexpected_keys", [])
    if unexpected:
        raise SigmaError(f"checkpoint LoRA has layers this run does not train (e.g. {unexpected[0]})",
                         hint="lora.target changed since the checkpoint was written")


def lora_parameters(transformer: Any) -> list[torch.nn.Parameter]:
    return [p for p in transformer.parameters() if p.requires_grad]


class Denoiser(torch.nn.Module):
    """`sigma_forward` as a module, so DDP (via accelerate) wraps it and syncs the LoRA gradients."""

    def __init__(self, transformer: Any):
        super().__init__()
        self.transformer = transformer

    def forward(self, **kwargs: Any) -> torch.Tensor:
        from ..model.forward import sigma_forward

        return sigma_forward(self.transformer, **kwargs)
