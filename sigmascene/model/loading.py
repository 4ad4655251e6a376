"""One way to get a ready SigmaPipeline from a local base folder (+ SIGMA LoRA): `render`, `eval run`,
`eval toyworld` and the embedded demo all load through here, so a memory option or a dtype means the same thing
everywhere and a missing file gives the same message.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import ConfigError, ModelError

# The one dtype table: what each name a user may type stands for in torch. `auto` and `fp8` are decided by
# `compute_dtype`; the trainer's weight_dtype and every `--dtype` option list derive from here.
TORCH_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
DTYPES = ("auto", *TORCH_DTYPES, "fp8")
DTYPE_HELP = " | ".join(DTYPES) + " (auto: bf16 on a GPU, fp32 on CPU; fp8: fp8 weights, bf16 math)."
OFFLOADS = ("model", "sequential")


def resolve_device(device: Optional[str] = None) -> Any:
    """`auto`/None picks cuda when torch sees one; asking for a GPU torch cannot see is a user error."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device} asked for a GPU, but torch sees none", hint="use --device cpu")
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


def quiet_libraries() -> None:
    """diffusers/transformers draw their own loading bars and deprecation chatter; ours is the only output."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    for log in (dlog, tlog):
        log.set_verbosity_error()
        log.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)


def load_pipeline(base: str | Path, lora: str | Path | None = None, *, device: Optional[str] = None,
                  dtype: str = "auto", offload: Optional[str] = None, vae_tiling: bool = False,
                  note: Optional[Callable[[str], None]] = None) -> Any:
    """The SIGMA pipeline from a local diffusers folder, LoRA applied, memory options set, on its device.

    offload: None | "model" | "sequential" (accelerate's CPU offload, a GPU-only saving; `note` is told when it is
    ignored on CPU). dtype "fp8" keeps the transformer's weights in float8 and upcasts each layer for its matmul.
    """
    from .pipeline import SigmaPipeline

    if offload is not None and offload not in OFFLOADS:
        raise ConfigError(f"--offload {offload!r} is not one of: {', '.join(OFFLOADS)}")
    dev = resolve_device(device)
    torch_dtype = compute_dtype(dtype, dev)
    if lora is not None and not Path(lora).is_file():
        raise ModelError(f"LoRA file {lora} does not exist", hint="pass the .safetensors `sigmascene train` wrote")
    quiet_libraries()
    pipe = SigmaPipeline.from_pretrained(base, dtype=torch_dtype)
    pipe.set_progress_bar_config(disable=True)
    if lora is not None:
        pipe.load_lora_weights(lora)
    if dtype == "fp8":
        import torch

        pipe.transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=torch.bfloat16)
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
