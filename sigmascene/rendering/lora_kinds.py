"""Which kind of LoRA a file is, from its header alone: the resolver decides the default method and refuses a
LoRA that does not fit the chosen one before minutes of loading.

A small registry: each kind has a recogniser that reads a `LoraHeader` (the safetensors metadata and tensor
shapes, plus sigmascene's LoraInfo). Recognisers are tried in registration order; the first that says yes names
the kind. A method module that brings its own LoRA (ContextGen's) registers its kind with `register_lora_kind`.
A LoRA no recogniser claims is `unknown`: it may be stacked on any method as an extra (a look, a style), never
chosen as a method's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..model.lora import PICKLE_SUFFIXES, SIGMA_METADATA_KEY, LoraInfo, read_lora_info

SIGMA, STYLE, UNKNOWN = "sigma", "style", "unknown"


@dataclass(frozen=True)
class LoraHeader:
    path: Path
    metadata: dict[str, str]                 # the safetensors header's metadata ({} for a pickled .bin)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)   # tensor name -> shape
    info: LoraInfo | None = None             # what sigmascene reads of it (rank, alpha, condition mask, ...)


Recogniser = Callable[[LoraHeader], bool]


@dataclass(frozen=True)
class LoraKind:
    name: str
    label: str          # how messages name it: "a SIGMA LoRA"
    recognise: Recogniser


_KINDS: list[LoraKind] = []


def register_lora_kind(name: str, label: str, recognise: Recogniser, *, first: bool = False) -> None:
    """Add (or replace) a kind; `first` puts it before the others (a more specific metadata key)."""
    global _KINDS
    _KINDS = [k for k in _KINDS if k.name != name]
    kind = LoraKind(name, label, recognise)
    _KINDS.insert(0, kind) if first else _KINDS.append(kind)


def lora_kinds() -> list[str]:
    return [k.name for k in _KINDS] + [UNKNOWN]


def kind_label(name: str) -> str:
    for k in _KINDS:
        if k.name == name:
            return k.label
    return "a LoRA of unknown kind" if name == UNKNOWN else f"a {name} LoRA"


def read_header(path: Path) -> LoraHeader:
    """The header of an existing LoRA file (a SigmaError when it is not a readable LoRA)."""
    info = read_lora_info(path)
    meta: dict[str, str] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    if path.suffix.lower() not in PICKLE_SUFFIXES:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    return LoraHeader(path=path, metadata=meta, shapes=shapes, info=info)


def recognise(header: LoraHeader) -> str:
    for kind in _KINDS:
        if kind.recognise(header):
            return kind.name
    return UNKNOWN


def lora_kind(path: str | Path) -> str:
    """The kind of the LoRA file at `path` (it must exist)."""
    return recognise(read_header(Path(path)))


def _is_sigma(h: LoraHeader) -> bool:
    return SIGMA_METADATA_KEY in h.metadata


def _is_style(h: LoraHeader) -> bool:
    """kohya / sd-scripts trainers write `ss_*` training metadata: a LoRA for a look or a subject, not a method."""
    return any(k.startswith("ss_") for k in h.metadata)


register_lora_kind(SIGMA, "a SIGMA LoRA", _is_sigma)
register_lora_kind(STYLE, "a style LoRA", _is_style)
