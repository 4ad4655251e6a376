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

from ..errors import ConfigError, SigmaError

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


_FILE_FIELDS = ("rank", "alpha", "condition_mask", "config_hash", "sigma", "path", "format_version")


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
    weight: Any = 1.0  # the adapter's weight in `set_adapters` (a number, or diffusers' per-block dict)
    adapter_name: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("target_modules")
        return d


def add_sigma_lora(transformer: Any, *, rank: int, alpha: float,
                   target_modules: tuple[str, ...] | list[str] = DEFAULT_TARGET_MODULES,
                   adapter_name: str = "default", init_lora_weights: bool | str = True) -> None:
    """Inject a fresh LoRA into a FluxTransformer2DModel (the trainer's starting point)."""
    from peft import LoraConfig

    config = LoraConfig(r=rank, lora_alpha=alpha,  # type: ignore[arg-type]  # peft says int; a float works (alpha / r)
                        target_modules=list(target_modules),
                        init_lora_weights=init_lora_weights)  # type: ignore[arg-type]  # peft checks the name itself
    transformer.add_adapter(config, adapter_name=adapter_name)


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
    config = _peft_config(transformer_or_state_dict, adapter_name)
    if config is None:  # bare weights: exact module names, so a bare "proj_out" adapts only the top-level layer
        exact = "(" + "|".join(re.escape(m) for m in modules) + ")"
        config = {"r": int(rank), "lora_alpha": float(alpha), "target_modules": exact}
    diffusers_meta = {f"{PREFIX}.{k}": v for k, v in config.items()}
    own = {k: v for k, v in info.to_json().items() if k in _FILE_FIELDS}
    metadata = {"format": "pt", SIGMA_METADATA_KEY: json.dumps(own, sort_keys=True),
                DIFFUSERS_METADATA_KEY: json.dumps(diffusers_meta, sort_keys=True)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v if v.dtype != torch.float64 else v.float() for k, v in sd.items()}, str(tmp), metadata=metadata)
    tmp.replace(path)
    return path


def _peft_config(source: Any, adapter_name: str) -> dict[str, Any] | None:
    """The adapter's full LoraConfig as diffusers' `save_lora_adapter` writes it (use_dora, rank_pattern, ...)."""
    cfg = (getattr(source, "peft_config", None) or {}).get(adapter_name) if not isinstance(source, dict) else None
    if cfg is None:
        return None
    d = cfg.to_dict()
    return {k: sorted(v) if isinstance(v, set) else v for k, v in d.items()}


def read_sigma_lora(path: str | Path) -> tuple[dict[str, "torch.Tensor"], LoraInfo]:
    """Weights (keys as in the file, prefixed `transformer.` when bare) and metadata of a SIGMA LoRA file, checked
    for consistency; every problem is a SigmaError. The trainer's reader; inference loads through diffusers."""
    from safetensors import SafetensorError, safe_open

    p = _existing(path)
    try:
        with safe_open(str(p), framework="pt") as f:
            sd = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise SigmaError(f"{p} is not a readable safetensors LoRA: {err}") from None
    sd = {k if k.startswith(f"{PREFIX}.") else f"{PREFIX}.{k}": v for k, v in sd.items()}
    info = read_lora_info(p)
    return sd, info


def _existing(path: str | Path) -> Path:
    p = Path(path).expanduser()
    check_lora_file(p)
    return p


def check_lora_file(p: Path) -> None:
    """The one place a missing LoRA file is reported, always a ConfigError, with the likely slip named: the
    resolver (rendering/plan.py), the loader, diffusers-style `load_lora_weights` and the trainer's reader all
    call it."""
    if p.is_file():
        return
    head, sep, tail = str(p).rpartition(":")
    if sep and Path(head).is_file():  # `file:weight` whose weight is not a number
        raise ConfigError(f"--lora {p}: the weight after ':' must be a number, got {tail!r}",
                          hint=f"e.g. --lora {head}:0.8")
    if p.is_dir():
        found = sorted(x.name for x in p.glob("*.safetensors"))[:3]
        raise ConfigError(f"--lora {p} is a folder; pass the LoRA file in it",
                          hint=f"e.g. --lora {p / found[0]}" if found else "it holds no .safetensors file")
    raise ConfigError(f"LoRA file {p} does not exist",
                      hint="pass the .safetensors `sigmascene train` wrote (--lora FILE, SIGMASCENE_LORA, or the "
                           "config file)")


def read_lora_info(path: str | Path) -> LoraInfo:
    """What a LoRA file says about itself, from its header only (no tensor is read): fast enough to decide, before
    the base loads, whether a condition cache is allowed. A foreign LoRA (kohya, xlabs, any diffusers file) gets
    sigma=False: usable, but it cannot vouch for the condition mask."""
    from safetensors import SafetensorError, safe_open

    p = _existing(path)
    if p.suffix.lower() in PICKLE_SUFFIXES:
        return info_from_state_dict(_pickled_shapes(p), {}, str(p))
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise SigmaError(f"{p} is not a readable safetensors LoRA: {err}") from None
    return info_from_state_dict(shapes, meta, str(p))


#: Older diffusers LoRAs (`pytorch_lora_weights.bin`) are torch pickles; stock diffusers reads them, so do we —
#: with `weights_only=True`, which loads tensors and refuses to run code.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth")


def _pickled_shapes(p: Path) -> dict[str, tuple]:
    import pickle

    import torch

    try:
        sd = torch.load(str(p), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise SigmaError(f"{p} is not a readable LoRA: it holds objects other than tensors, and pickled code is "
                         "never run", hint="a .bin LoRA must be a plain state dict of tensors (torch.save)") from None
    except (RuntimeError, OSError, EOFError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise SigmaError(f"{p} is not a readable LoRA: {first[:200]}",
                         hint="a .bin LoRA must be a plain state dict of tensors (torch.save)") from None
    if not isinstance(sd, dict):
        raise SigmaError(f"{p} holds a {type(sd).__name__}, not a LoRA state dict")
    return {k: tuple(v.shape) for k, v in sd.items() if hasattr(v, "shape")}


def info_from_state_dict(shapes: dict[str, Any], meta: dict[str, str], path: str | None) -> LoraInfo:
    """LoraInfo from tensor shapes (or tensors) and the file's metadata; a SIGMA file must agree with itself."""
    def shape(v: Any) -> tuple:
        return tuple(v.shape) if hasattr(v, "shape") else tuple(v)

    ranks = {shape(v)[0] for k, v in shapes.items() if k.endswith(("lora_A.weight", "lora_down.weight"))
             and len(shape(v)) == 2}
    ranks |= {shape(v)[0] for k, v in shapes.items() if ".down.weight" in k and len(shape(v)) == 2}
    where = path or "the state dict"
    if not ranks:
        raise SigmaError(f"{where} holds no LoRA weights (no 2-D `lora_A` / `lora_down` matrices)")
    modules = _modules_of({k: None for k in shapes})
    raw = meta.get(SIGMA_METADATA_KEY)
    if raw is None:
        rank = max(ranks)
        return LoraInfo(rank=rank, alpha=_diffusers_alpha(meta, rank), condition_mask=False, config_hash=None,
                        target_modules=modules, sigma=False, path=path)
    try:
        m = json.loads(raw)
        info = LoraInfo(rank=int(m["rank"]), alpha=float(m["alpha"]), condition_mask=bool(m["condition_mask"]),
                        config_hash=m.get("config_hash"), target_modules=modules, path=path,
                        format_version=int(m.get("format_version", FORMAT_VERSION)))
    except (ValueError, KeyError, TypeError) as err:
        raise SigmaError(f"{where}: malformed `{SIGMA_METADATA_KEY}` metadata ({err})") from None
    if info.format_version > FORMAT_VERSION:
        raise SigmaError(f"{where} was written by a newer sigmascene (LoRA format {info.format_version})",
                         hint="upgrade sigmascene to load it")
    if ranks != {info.rank}:
        raise SigmaError(f"{where}: metadata says rank {info.rank} but the weights have rank {sorted(ranks)}")
    return info


def _diffusers_alpha(meta: dict[str, str], rank: int) -> float:
    try:
        d = json.loads(meta.get(DIFFUSERS_METADATA_KEY, "{}"))
        return float(d.get(f"{PREFIX}.lora_alpha", rank))
    except (ValueError, TypeError):
        return float(rank)


def load_sigma_lora(transformer: Any, path: str | Path, *, adapter_name: str = ADAPTER_NAME) -> LoraInfo:
    """Load a LoRA file into a bare FluxTransformer2DModel (no pipeline: the trainer, tests) through diffusers'
    Flux loader — its format conversions, network alphas and adapter metadata — and return the file's info."""
    from diffusers.loaders import FluxLoraLoaderMixin

    info = read_lora_info(path)
    try:
        sd, alphas, meta = FluxLoraLoaderMixin.lora_state_dict(str(path), return_alphas=True,
                                                               return_lora_metadata=True)
    except (ValueError, OSError, KeyError, RuntimeError) as err:
        raise SigmaError(f"{path} is not a LoRA diffusers can read: {err}") from None
    missing = [m for m in _modules_of(sd) if _get_module(transformer, m) is None]
    if missing:
        raise SigmaError(f"LoRA {path} targets layers this base model does not have (e.g. {missing[0]})",
                         hint="it was trained for another base model; use the Flux Kontext base it was trained on")
    if adapter_name in (getattr(transformer, "peft_config", None) or {}):
        raise SigmaError(f"adapter name {adapter_name!r} is already in use on this transformer",
                         hint="delete_adapters it first, or pass another adapter_name")
    try:
        FluxLoraLoaderMixin.load_lora_into_transformer(sd, network_alphas=alphas, transformer=transformer,
                                                       adapter_name=adapter_name, metadata=meta)
    except (ValueError, RuntimeError, TypeError) as err:
        raise SigmaError(f"could not apply LoRA {path}: {str(err).splitlines()[0]}") from None
    info.adapter_name = adapter_name
    return info


def _get_module(root: Any, dotted: str) -> Any:
    mod = root
    for part in dotted.split("."):
        mod = getattr(mod, part, None)
        if mod is None:
            return None
    return mod
