"""`--transformer FILE`: a Kontext transformer from one file — a BFL / ComfyUI `.safetensors` or a quantized
`.gguf` — with every other component from the base folder.

Both go through diffusers' own `FluxTransformer2DModel.from_single_file` (its key conversion from the BFL layout,
and `GGUFQuantizationConfig` for GGUF, whose weights stay quantized in memory and are dequantized per layer). The
architecture comes from the base folder's `transformer/config.json`, so nothing is fetched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModelError

SUFFIXES = (".safetensors", ".gguf", ".sft")


def load_transformer(path: str | Path, base: str | Path, torch_dtype: Any) -> Any:
    """The FluxTransformer2DModel in `path`, configured by `base/transformer/config.json`, computing in
    `torch_dtype` (a GGUF file keeps its quantized storage)."""
    from diffusers import FluxTransformer2DModel

    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelError(f"transformer file {str(p)!r} does not exist")
    if p.suffix.lower() not in SUFFIXES:
        raise ModelError(f"transformer file {p.name} is neither .safetensors nor .gguf",
                         hint="pass a single-file Flux Kontext transformer (BFL / ComfyUI .safetensors, or .gguf)")
    config = Path(base).expanduser()
    if not (config / "transformer" / "config.json").is_file():
        raise ModelError(f"{config} has no transformer/config.json to configure {p.name} with",
                         hint="--base must be a diffusers Flux Kontext folder; its other components are used")
    kwargs: dict[str, Any] = {"config": str(config), "subfolder": "transformer", "torch_dtype": torch_dtype,
                              "local_files_only": True}
    if p.suffix.lower() == ".gguf":
        from diffusers import GGUFQuantizationConfig

        kwargs["quantization_config"] = GGUFQuantizationConfig(compute_dtype=torch_dtype)
    try:
        return FluxTransformer2DModel.from_single_file(str(p), **kwargs)
    except ImportError as err:
        raise ModelError(f"cannot read {p.name}: {err}", hint="pip install gguf  (or sigmascene[model])") from None
    except (ValueError, KeyError, RuntimeError, OSError, TypeError, IndexError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelError(f"{p.name} is not a Flux transformer this base can use: {first[:300]}",
                         hint="the file must hold the same architecture as --base's transformer (e.g. FLUX.1 "
                              "Kontext [dev] with the Kontext base)") from None
