"""Where the base model and the SIGMA LoRA live: a flag, else an environment variable, else the user config file.

Model folders are tens of gigabytes and live wherever the user put them, so no command should make them type
the path every time. Precedence, first found wins:

1. `--base DIR` / `--lora FILE`
2. `SIGMASCENE_BASE` / `SIGMASCENE_LORA`
3. `$XDG_CONFIG_HOME/sigmascene/config.toml` (default `~/.config/sigmascene/config.toml`)::

       [model]
       base = "~/models/FLUX.1-Kontext-dev"
       lora = "~/models/sigma-lora.safetensors"

Relative paths in the config file resolve against the file's folder.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, ModelError

ENV_BASE = "SIGMASCENE_BASE"
ENV_LORA = "SIGMASCENE_LORA"

HOW_TO_GET_BASE = (
    "download a diffusers-format Flux.1 Kontext [dev] folder (e.g. `hf download "
    "black-forest-labs/FLUX.1-Kontext-dev --local-dir DIR` after accepting its licence), then pass --base DIR, "
    f"set {ENV_BASE}=DIR, or put `base = \"DIR\"` under [model] in {{config}}. For a quick offline test: "
    "`python3 -c \"from sigmascene.testing.tiny_pipeline import save_tiny_pipeline; "
    "save_tiny_pipeline('tiny-model')\"` "
    "(random weights)"
)


@dataclass(frozen=True)
class ModelPaths:
    base: Path | None
    lora: Path | None
    base_source: str  # "flag", "env", "config", "demo" or "unset": said in messages and the sidecar
    lora_source: str


def config_file() -> Path:
    root = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(root) / "sigmascene" / "config.toml"


def read_config(path: Path | None = None) -> dict:
    """The [model] table of the user config file; {} when there is none."""
    path = path or config_file()
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not the sigmascene config file",
                          hint="remove it, or make it a TOML file with a [model] table")
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"{path}: cannot read the sigmascene config file: {err}") from None
    model = data.get("model", {})
    if not isinstance(model, dict):
        raise ConfigError(f"{path}: [model] must be a table with `base` and/or `lora` paths")
    for key in ("base", "lora"):
        if key in model and not isinstance(model[key], str):
            raise ConfigError(f"{path}: `{key}` under [model] must be a path string")
    return model


def _pick(flag: str | Path | None, env: str, key: str, cfg: dict, cfg_dir: Path) -> tuple[Path | None, str]:
    if flag not in (None, ""):
        return Path(flag).expanduser(), "flag"
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser(), "env"
    if cfg.get(key):
        p = Path(cfg[key]).expanduser()
        return (p if p.is_absolute() else cfg_dir / p), "config"
    return None, "unset"


def resolve_model_paths(base: str | Path | None = None, lora: str | Path | None = None) -> ModelPaths:
    """Base folder and LoRA file from flags, environment and config (not checked for existence here)."""
    path = config_file()
    cfg = read_config(path)
    b, bs = _pick(base, ENV_BASE, "base", cfg, path.parent)
    lo, ls = _pick(lora, ENV_LORA, "lora", cfg, path.parent)
    return ModelPaths(b, lo, bs, ls)


def require_base(paths: ModelPaths) -> Path:
    """The base folder, or a SigmaError that says how to get one."""
    hint = HOW_TO_GET_BASE.format(config=config_file())
    if paths.base is None:
        raise ModelError("no base model given", hint=hint)
    where = {"flag": "--base", "env": ENV_BASE, "config": str(config_file())}.get(paths.base_source, "")
    if not paths.base.is_dir():
        raise ModelError(f"base model folder {str(paths.base)!r} (from {where}) does not exist", hint=hint)
    if not (paths.base / "model_index.json").is_file():
        raise ModelError(f"{str(paths.base)!r} (from {where}) is not a diffusers pipeline folder: it has no "
                         "model_index.json", hint=hint)
    return paths.base
