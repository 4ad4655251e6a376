"""One way to get a ready SigmaPipeline from a local base folder (+ SIGMA LoRA): `render`, `eval run`,
`eval toyworld` and the embedded demo all load through here, so a memory option or a dtype means the same thing
everywhere and a missing file gives the same message.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import SigmaError

DTYPES = ("auto", "bf16", "fp16", "fp32", "fp8")
OFFLOADS = ("model", "sequential")


def resolve_device(device: Optional[str] = None) -> Any:
    """`auto`/None picks cuda when torch sees one; asking for a GPU torch cannot see is a user error."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SigmaError(f"--device {device} asked for a GPU, but torch sees none", hint="use --device cpu")
    return dev


def compute_dtype(dtype: str, device: Any) -> Any:
    """The dtype the math runs in: bf16 on a GPU and fp32 on CPU for `auto`; fp8 stores weights in float8 and
    computes in bf16."""
    import torch

    if dtype not in DTYPES:
        raise SigmaError(f"--dtype {dtype!r} is not one of: {', '.join(DTYPES)}")
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32, "fp8": torch.bfloat16,
            "auto": torch.bfloat16 if device.type == "cuda" else torch.float32}[dtype]


def _lora_list(lora: Any) -> list[tuple[Path, float]]:
    """None, one path, or a list of paths / (path, weight) pairs -> [(path, weight)]."""
    if lora is None:
        return []
    if isinstance(lora, (str, Path)):
        return [(Path(lora), 1.0)]
    return [(Path(x), 1.0) if isinstance(x, (str, Path)) else (Path(x[0]), float(x[1])) for x in lora]


def quiet_libraries() -> None:
    """diffusers/transformers draw their own loading bars and deprecation chatter; ours is the only output."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    for log in (dlog, tlog):
        log.set_verbosity_error()
        log.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)


def load_pipeline(base: str | Path, lora: Any = None, *, transformer: str | Path | None = None,
                  device: Optional[str] = None,
                  dtype: str = "auto", offload: Optional[str] = None, vae_tiling: bool = False,
                  note: Optional[Callable[[str], None]] = None) -> Any:
    """The SIGMA pipeline from a local diffusers folder, LoRA applied, memory options set, on its device.

    offload: None | "model" | "sequential" (accelerate's CPU offload, a GPU-only saving; `note` is told when it is
    ignored on CPU). dtype "fp8" keeps the transformer's weights in float8 and upcasts each layer for its matmul.
    """
    from .pipeline import SigmaPipeline

    if offload is not None and offload not in OFFLOADS:
        raise SigmaError(f"--offload {offload!r} is not one of: {', '.join(OFFLOADS)}")
    dev = resolve_device(device)
    torch_dtype = compute_dtype(dtype, dev)
    loras = _lora_list(lora)
    for path, _ in loras:
        if not Path(path).is_file():
            raise SigmaError(f"LoRA file {path} does not exist", hint="pass the .safetensors `sigmascene train` wrote")
    quiet_libraries()
    pipe = SigmaPipeline.from_pretrained(base, dtype=torch_dtype)
    pipe.set_progress_bar_config(disable=True)
    if len(loras) > 1:
        raise SigmaError("several LoRAs at once are not supported yet")
    for path, weight in loras:
        pipe.load_lora_weights(path)
        pipe.lora_info.weight = weight
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
