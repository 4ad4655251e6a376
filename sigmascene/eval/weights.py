"""Which local folder holds each metric's backbone, and loading it without ever touching a model hub.

Evaluation runs on machines with no network and must never hang on (or silently perform) a download, so every
backbone comes from a folder the user names — in `eval.toml`, with a flag, or from Python — and a metric whose
folder is missing is skipped with one line that says which folder to provide.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError, ModelError, SourceLoc, did_you_mean

# key -> (what it is, an example of what to put there)
BACKBONES: dict[str, tuple[str, str]] = {
    "dino": ("DINOv2 (or DINO ViT) image encoder", "a save_pretrained copy of facebook/dinov2-base"),
    "siglip": ("SigLIP image+text model", "a save_pretrained copy of google/siglip-so400m-patch14-384"),
    "depth": ("monocular depth estimator", "a save_pretrained copy of depth-anything/Depth-Anything-V2-Large-hf"),
    "clip": ("CLIP model for CLIP-IQA", "a save_pretrained copy of openai/clip-vit-base-patch16"),
    "musiq": ("MUSIQ checkpoint for pyiqa", "the file musiq_koniq_ckpt-e95806b9.pth from pyiqa's releases"),
}


def force_offline() -> None:
    """Make every Hugging Face library refuse network access for the rest of this process."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"


@dataclass
class Weights:
    """Local paths of the evaluation backbones; None = not provided (that metric is skipped)."""

    dino: Path | None = None
    siglip: Path | None = None
    depth: Path | None = None
    clip: Path | None = None
    musiq: Path | None = None
    source: dict[str, str] = field(default_factory=dict)  # key -> where the path was given (for messages)

    @classmethod
    def from_toml(cls, path: str | Path) -> "Weights":
        """Read `[weights]` from a TOML file; relative paths resolve against the file's folder."""
        from ..core.toml_file import read_toml  # located syntax errors; a BOM, binary junk or a folder as one error

        path = Path(path)
        if not path.exists():
            raise ConfigError(f"weights config {path} does not exist")
        data = read_toml(path)[1]
        table = data.get("weights", data)
        if not isinstance(table, dict):
            raise ConfigError("`weights` must be a table of NAME = \"folder\"", SourceLoc(str(path), 1, 1))
        return cls.from_mapping(table, base=path.parent, origin=str(path))

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], base: Path | None = None, origin: str = "config") -> "Weights":
        out = cls()
        for key, value in table.items():
            if key not in BACKBONES:
                raise ConfigError(f"unknown backbone '{key}' in {origin}", None,
                                 did_you_mean(key, BACKBONES) or f"known: {', '.join(BACKBONES)}")
            if value in (None, ""):
                continue
            p = Path(os.path.expanduser(str(value)))
            if not p.is_absolute() and base is not None:
                p = base / p
            setattr(out, key, p)
            out.source[key] = origin
        return out

    def merged(self, other: "Weights") -> "Weights":
        """`other`'s paths win where given (flags over a config file)."""
        out = Weights(**{f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"})
        out.source = dict(self.source)
        for key in BACKBONES:
            if getattr(other, key) is not None:
                setattr(out, key, getattr(other, key))
                out.source[key] = other.source.get(key, "flag")
        return out

    def path(self, key: str) -> Path | None:
        return getattr(self, key)

    def fingerprint(self) -> dict[str, str | None]:
        """What scores depend on: path plus the files' sizes and times, so weights replaced in place count."""
        return {k: _stat_key(getattr(self, k)) for k in BACKBONES}


def _stat_key(p: Path | None) -> str | None:
    if p is None:
        return None
    try:
        files = [f for f in p.iterdir() if f.is_file()] if p.is_dir() else [p]
        stats = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    except OSError:
        stats = []
    return f"{p}|{stats}"


class MissingWeights(Exception):
    """A backbone is not available; the message is the one line the user sees."""


def missing_line(key: str, metrics: str) -> str:
    what, example = BACKBONES[key]
    return (f"{metrics} skipped: no {what} — give a local folder with --{key} DIR or `{key} = \"DIR\"` under "
            f"[weights] in eval.toml ({example})")


def require_model_folder(weights: Weights, key: str, metrics: str) -> Path:
    """The folder for `key`, or MissingWeights when it was not given; SigmaError when given but unusable."""
    p = weights.path(key)
    if p is None:
        raise MissingWeights(missing_line(key, metrics))
    where = weights.source.get(key, "config")
    if not p.is_dir():
        raise ModelError(f"{metrics}: the {key} folder {p} (from {where}) does not exist or is not a folder",
                         hint="pass a folder written by save_pretrained; nothing is ever downloaded")
    if not (p / "config.json").is_file():
        raise ModelError(f"{metrics}: {p} (from {where}) has no config.json",
                         hint="the folder must be a transformers model saved with save_pretrained")
    return p


def load_pretrained(loader: Any, folder: Path, what: str) -> Any:
    """`loader.from_pretrained(folder)` strictly offline, turning library errors into one SigmaError."""
    from transformers.utils import logging as hf_logging

    force_offline()
    hf_logging.disable_progress_bar()  # our own bar reports progress; per-file loading bars are noise
    try:
        return loader.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"cannot load the {what} from {folder}: {first}",
                         hint="the folder must hold a complete save_pretrained copy (weights and preprocessor)"
                         ) from None
