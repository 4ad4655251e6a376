"""SIGMA LoRA files: diffusers' Flux LoRA format plus the facts inference must agree with training on.

The file is a plain safetensors LoRA that diffusers' own `load_lora_weights` also reads (keys
``transformer.<module>.lora_A.weight`` / ``lora_B.weight`` and diffusers' ``lora_adapter_metadata``). Beside it,
under the ``sigmascene`` metadata key, we keep what a mismatch would silently break: the rank and alpha, whether
the model was trained with the condition attention mask (without it, the condition cache changes the output),
and the hash of the training config, so a rendered image can name the exact training run.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SigmaError

if TYPE_CHECKING:
    import torch

SIGMA_METADATA_KEY = "sigmascene"
DIFFUSERS_METADATA_KEY = "lora_adapter_metadata"  # diffusers.loaders.lora_base.LORA_ADAPTER_METADATA_KEY
FORMAT_VERSION = 1
PREFIX = "transformer"
ADAPTER_NAME = "sigma"

#: Linear layers a SIGMA LoRA adapts in Flux: all attention projections and MLPs of both block kinds.
DEFAULT_TARGET_MODULES = (
    "attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0",
    "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", "attn.to_add_out",
    "ff.net.0.proj", "ff.net.2", "ff_context.net.0.proj", "ff_context.net.2",
    "proj_mlp", "proj_out",
)


@dataclass
class LoraInfo:
    """What a SIGMA LoRA file says about itself. `sigma` is False for a LoRA written by another tool."""

    rank: int
    alpha: float
    condition_mask: bool
    config_hash: str | None
    target_modules: list[str] = field(default_factory=list)
    sigma: bool = True
    path: str | None = None
    format_version: int = FORMAT_VERSION
    weight: float = 1.0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("target_modules")
        return d


def add_sigma_lora(transformer: Any, *, rank: int, alpha: float, target_modules: tuple[str, ...] | list[str] = DEFAULT_TARGET_MODULES,
                   adapter_name: str = "default", init_lora_weights: bool | str = True) -> None:
    """Inject a fresh LoRA into a FluxTransformer2DModel (the trainer's starting point)."""
    from peft import LoraConfig

    transformer.add_adapter(LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(target_modules),
                                       init_lora_weights=init_lora_weights), adapter_name=adapter_name)


def lora_state_dict(transformer: Any, adapter_name: str = "default") -> dict[str, "torch.Tensor"]:
    """The adapter's weights in diffusers' file layout (``transformer.<module>.lora_A.weight``)."""
    from peft.utils import get_peft_model_state_dict

    sd = get_peft_model_state_dict(transformer, adapter_name=adapter_name)
    return {f"{PREFIX}.{k}": v for k, v in sd.items()}


def _modules_of(state_dict: dict[str, Any]) -> list[str]:
    mods = {k.removeprefix(f"{PREFIX}.").rsplit(".lora_", 1)[0] for k in state_dict if ".lora_" in k}
    return sorted(mods)


def save_sigma_lora(path: str | Path, transformer_or_state_dict: Any, *, rank: int, alpha: float,
                    condition_mask: bool, config_hash: str, adapter_name: str = "default") -> Path:
    """Write a SIGMA LoRA: weights (from a peft-adapted transformer or a state dict) plus our metadata.

    A state dict may be in peft layout (``transformer_blocks.0.attn.to_q.lora_A.weight``) or already prefixed
    with ``transformer.``; both are written prefixed.
    """
    import torch
    from safetensors.torch import save_file

    if isinstance(transformer_or_state_dict, dict):
        sd = {k if k.startswith(f"{PREFIX}.") else f"{PREFIX}.{k}": v for k, v in transformer_or_state_dict.items()}
    else:
        sd = lora_state_dict(transformer_or_state_dict, adapter_name)
    if not sd:
        raise SigmaError("there are no LoRA weights to save", hint="add an adapter first (add_sigma_lora)")
    sd = {k: v.detach().to("cpu").contiguous() for k, v in sd.items()}
    for k, v in sd.items():
        if k.endswith("lora_A.weight") and v.shape[0] != rank:
            raise SigmaError(f"LoRA weight {k} has rank {v.shape[0]}, not the declared rank {rank}")
    modules = _modules_of(sd)
    info = LoraInfo(rank=int(rank), alpha=float(alpha), condition_mask=bool(condition_mask),
                    config_hash=str(config_hash), target_modules=modules)
    diffusers_meta = {f"{PREFIX}.r": int(rank), f"{PREFIX}.lora_alpha": float(alpha),
                      f"{PREFIX}.target_modules": modules}
    metadata = {"format": "pt", SIGMA_METADATA_KEY: json.dumps(info.to_json(), sort_keys=True),
                DIFFUSERS_METADATA_KEY: json.dumps(diffusers_meta, sort_keys=True)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v if v.dtype != torch.float64 else v.float() for k, v in sd.items()}, str(tmp), metadata=metadata)
    tmp.replace(path)
    return path


def read_sigma_lora(path: str | Path) -> tuple[dict[str, "torch.Tensor"], LoraInfo]:
    """Weights and metadata of a LoRA file, checked for consistency; every problem is a SigmaError."""
    from safetensors import SafetensorError, safe_open

    p = Path(path).expanduser()
    if not p.is_file():
        raise SigmaError(f"LoRA file {str(p)!r} does not exist",
                         hint="train one with `sigmascene train`, or pass --lora / set SIGMASCENE_LORA")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            sd = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise SigmaError(f"{p} is not a readable safetensors LoRA: {err}") from None
    sd = {k if k.startswith(f"{PREFIX}.") else f"{PREFIX}.{k}": v for k, v in sd.items()}
    a_ranks = {v.shape[0] for k, v in sd.items() if k.endswith("lora_A.weight")}
    if not a_ranks:
        raise SigmaError(f"{p} holds no LoRA weights (no `lora_A.weight` tensors)")
    modules = _modules_of(sd)
    raw = meta.get(SIGMA_METADATA_KEY)
    if raw is None:  # a LoRA from another tool: usable, but it cannot vouch for the condition mask
        rank = max(a_ranks)
        alpha = _diffusers_alpha(meta, rank)
        return sd, LoraInfo(rank=rank, alpha=alpha, condition_mask=False, config_hash=None,
                            target_modules=modules, sigma=False, path=str(p))
    try:
        m = json.loads(raw)
        info = LoraInfo(rank=int(m["rank"]), alpha=float(m["alpha"]), condition_mask=bool(m["condition_mask"]),
                        config_hash=m.get("config_hash"), target_modules=modules, path=str(p),
                        format_version=int(m.get("format_version", FORMAT_VERSION)))
    except (ValueError, KeyError, TypeError) as err:
        raise SigmaError(f"{p}: malformed `{SIGMA_METADATA_KEY}` metadata ({err})") from None
    if info.format_version > FORMAT_VERSION:
        raise SigmaError(f"{p} was written by a newer sigmascene (LoRA format {info.format_version})",
                         hint="upgrade sigmascene to load it")
    if a_ranks != {info.rank}:
        raise SigmaError(f"{p}: metadata says rank {info.rank} but the weights have rank {sorted(a_ranks)}")
    return sd, info


def read_lora_info(path: str | Path) -> LoraInfo:
    """A LoRA file's LoraInfo (used before the base loads, e.g. to refuse a condition cache early)."""
    return read_sigma_lora(path)[1]


def _diffusers_alpha(meta: dict[str, str], rank: int) -> float:
    try:
        d = json.loads(meta.get(DIFFUSERS_METADATA_KEY, "{}"))
        return float(d.get(f"{PREFIX}.lora_alpha", rank))
    except (ValueError, TypeError):
        return float(rank)


def load_sigma_lora(transformer: Any, path: str | Path, *, adapter_name: str = ADAPTER_NAME) -> LoraInfo:
    """Load a LoRA file into a FluxTransformer2DModel through diffusers/peft; returns its metadata."""
    sd, info = read_sigma_lora(path)
    missing = [m for m in info.target_modules if _get_module(transformer, m) is None]
    if missing:
        raise SigmaError(f"LoRA {path} targets layers this base model does not have (e.g. {missing[0]})",
                         hint="it was trained for another base model; use the Flux Kontext base it was trained on")
    if adapter_name in getattr(transformer, "peft_config", {}):
        transformer.delete_adapters(adapter_name)
    # A full-match regex over exact module names: a bare "proj_out" would also adapt every block's proj_out.
    exact = "(" + "|".join(re.escape(m) for m in info.target_modules) + ")"
    meta = {f"{PREFIX}.r": info.rank, f"{PREFIX}.lora_alpha": info.alpha, f"{PREFIX}.target_modules": exact}
    try:
        transformer.load_lora_adapter(sd, prefix=PREFIX, adapter_name=adapter_name, metadata=meta)
    except (ValueError, RuntimeError, TypeError) as err:
        raise SigmaError(f"could not apply LoRA {path}: {err}") from None
    return info


def _get_module(root: Any, dotted: str) -> Any:
    mod = root
    for part in dotted.split("."):
        mod = getattr(mod, part, None)
        if mod is None:
            return None
    return mod
