"""One way to get a ready SigmaPipeline from a local base folder (+ SIGMA LoRA): `render`, `eval run`,
`eval toyworld` and the embedded demo all load through here, so a memory option or a dtype means the same thing
everywhere and a missing file gives the same message.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import ConfigError
from .lora import check_lora_file

# The one dtype table: what each name a user may type stands for in torch. `auto` and `fp8` are decided by
# `compute_dtype`; the trainer's weight_dtype and every `--dtype` option list derive from here.
TORCH_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
DTYPES = ("auto", *TORCH_DTYPES, "fp8")
DTYPE_HELP = " | ".join(DTYPES) + " (auto: bf16 on a GPU, fp32 on CPU; fp8: fp8 weights, bf16 math)."
OFFLOADS = ("model", "sequential")


DEVICE_TYPES = ("cpu", "cuda", "mps")  # what sigmascene renders, trains and builds on
DEVICE_HELP = "auto (cuda when available), cpu, cuda, cuda:N, mps"
_DEVICE_RE = r"(cpu|cuda|mps)(:\d{1,3})?"


def check_device_name(device: str) -> str:
    """The device string, or ConfigError: shared by `--device` and `[build] device`, so `tpu:9` is refused
    with one message wherever it is typed (torch's own RuntimeError lists backends this build never uses)."""
    import re

    if device != "auto" and not re.fullmatch(_DEVICE_RE, device):
        raise ConfigError(f"device {device!r} is not one sigmascene can use",
                          hint=f"use one of: {DEVICE_HELP}")
    return device


def resolve_device(device: Optional[str] = None) -> Any:
    """`auto`/None picks cuda when torch sees one; asking for a device torch cannot see is a user error."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    check_device_name(str(device))
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device} asked for a GPU, but torch sees none", hint="use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {device}: torch sees {torch.cuda.device_count()} GPU(s)",
                          hint="count from cuda:0, or use --device cuda")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {device} asked for Apple's GPU (MPS), but torch sees none",
                          hint="use --device cpu")
    return dev


def torch_dtype(name: str) -> Any:
    """The torch dtype a table name stands for (`bf16` -> torch.bfloat16)."""
    import torch

    return getattr(torch, TORCH_DTYPES[name])


def compute_dtype(dtype: str, device: Any) -> Any:
    """The dtype the math runs in: bf16 on a GPU and fp32 on CPU for `auto`; fp8 stores weights in float8 and
    computes in bf16."""
    import torch

    if dtype not in DTYPES:
        raise ConfigError(f"--dtype {dtype!r} is not one of: {', '.join(DTYPES)}")
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return torch.bfloat16 if dtype == "fp8" else torch_dtype(dtype)


def _lora_list(lora: Any) -> list[tuple[Path, float]]:
    """None, one path, or a list of paths / (path, weight) pairs -> [(path, weight)]."""
    if lora is None:
        return []
    if isinstance(lora, (str, Path)):
        return [(Path(lora), 1.0)]
    return [(Path(x), 1.0) if isinstance(x, (str, Path)) else (Path(x[0]), float(x[1])) for x in lora]


#: Set by `sigmascene -v`: library warnings (transformers' "requires torchvision", diffusers' deprecations) are
#: shown, each once; without it they are not. An environment variable, so worker processes (Ray, spawn) agree.
VERBOSE_ENV = "SIGMASCENE_VERBOSE"


def quiet_library_imports(verbose: bool | None = None) -> bool:
    """The cheap half of `quiet_libraries`, for a command that must not wait for diffusers to import (the
    editor binds its socket first): transformers and diffusers read these variables when they are first imported
    (and so do processes started later), so their import-time warnings stay quiet too. Returns `verbose`."""
    verbose = os.environ.get(VERBOSE_ENV) == "1" if verbose is None else verbose
    for name in ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY"):
        os.environ[name] = "warning" if verbose else "error"
    return verbose


def quiet_libraries(verbose: bool | None = None) -> None:
    """For the CLI only (a library call never changes global logging): diffusers/transformers draw their own
    loading bars and deprecation chatter, and LoRA key warnings reach the user as notes; ours is the only output.
    `verbose` (default: `sigmascene -v`, i.e. $SIGMASCENE_VERBOSE) keeps the libraries' warnings, once each."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    from .adapters import LoraKeysWarning

    verbose = quiet_library_imports(verbose)
    for log in (dlog, tlog):
        log.set_verbosity_warning() if verbose else log.set_verbosity_error()
        log.disable_progress_bar()
    warnings.filterwarnings("once" if verbose else "ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=LoraKeysWarning)


def load_pipeline(base: str | Path, lora: Any = None, *, transformer: str | Path | None = None,
                  device: Optional[str] = None, dtype: str = "auto", offload: Optional[str] = None,
                  vae_tiling: bool = False, note: Optional[Callable[[str], None]] = None) -> Any:
    """The SIGMA pipeline from a local diffusers folder, LoRA(s) applied, memory options set, on its device.

    lora: None, a path, or a list of paths / (path, weight) pairs: each becomes an adapter (named after its
    file), weighted with diffusers' `set_adapters`. transformer: a single-file (.safetensors, BFL / ComfyUI
    layout) or GGUF Kontext transformer replacing the base's. offload: None | "model" | "sequential"
    (accelerate's CPU offload, a GPU-only saving; `note` is told when it is ignored on CPU). dtype "fp8" keeps the
    transformer's weights in float8 and upcasts each layer for its matmul. A LoRA's key warnings go to `note`.
    Global logging and warning filters are left alone (the CLI quiets libraries itself).
    """
    from .pipeline import SigmaPipeline

    if offload is not None and offload not in OFFLOADS:
        raise ConfigError(f"--offload {offload!r} is not one of: {', '.join(OFFLOADS)}")
    dev = resolve_device(device)
    torch_dtype = compute_dtype(dtype, dev)
    loras = _lora_list(lora)
    for path, _ in loras:
        check_lora_file(Path(path))
    extra = {}
    if transformer is not None:
        from .single_file import load_transformer

        extra["transformer"] = load_transformer(transformer, base, torch_dtype)
    pipe = SigmaPipeline.from_pretrained(base, dtype=torch_dtype, **extra)
    pipe.set_progress_bar_config(disable=True)
    pipe.transformer_file = str(Path(transformer).resolve()) if transformer is not None else None
    _load_loras(pipe, loras, note)
    if dtype == "fp8" and transformer is None:
        import torch

        pipe.transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=torch.bfloat16)
    elif dtype == "fp8" and note is not None:
        note("--dtype fp8 applies to the base's own transformer; a --transformer file keeps its own storage")
    if vae_tiling:
        pipe.vae.enable_tiling()
    if offload and dev.type != "cuda":
        if note is not None:
            note(f"--offload {offload} has no effect on {dev.type}: everything already lives in RAM")
        offload = None
    if offload == "model":
        pipe.enable_model_cpu_offload(device=dev)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=dev)
    else:
        pipe.to(dev)
    return pipe


def _load_loras(pipe: Any, loras: list[tuple[Path, float]], note: Optional[Callable[[str], None]]) -> None:
    """Each LoRA as its own adapter (named after its file stem, made unique), all active with their weights."""
    names = []
    for path, _weight in loras:
        name, k = Path(path).stem, 1
        while name in names:
            k += 1
            name = f"{Path(path).stem}_{k}"
        info = pipe.load_lora_weights(str(path), adapter_name=name)
        if note is not None:
            for line in info.warnings:
                note(f"warning: LoRA {path}: {line}")
        names.append(name)
    if names and (len(names) > 1 or loras[0][1] != 1.0):
        pipe.set_adapters(names, [w for _, w in loras])
