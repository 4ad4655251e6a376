"""CompiledScene: the control image I_C, identity dictionary I_S and manifest, and writing them safely.

The record lives on the scene floor, below both the compiler (which fills it) and the model (which reads it), so
the pipeline takes a typed CompiledScene instead of an `Any` it pokes with getattr.

`save` writes into a temporary folder beside the target and moves it into place, so a crash or a bad file
never leaves a half-written output that a trainer or a render would silently read, and it refuses to overwrite
files that a previous sigmascene run did not write.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.files import make_dir_beside
from ..core.vocab import routing_intensity
from ..errors import SigmaError
from .ir import Scene

OUTPUT_FILES = ("control.png", "identity.png", "manifest.json")
GENERATOR = "sigmascene"


@dataclass
class CompiledScene:
    scene: Scene
    order: list[str]  # subject names far -> near; order[k - 1] has routing_intensity(k)
    control: np.ndarray  # H x W x 3 uint8: R = IR_asc, G = IR_desc, B = I_T
    identity: np.ndarray  # (N H') x W' x 3 uint8
    manifest: dict[str, Any]
    coverage: dict[str, np.ndarray]  # full H x W bool silhouette of each subject, before occlusion
    depth: np.ndarray  # H x W float32 metres of the visible subject surface, 0 where none
    warnings: list[str] = field(default_factory=list)
    background: np.ndarray | None = None  # H x W x 3 uint8: the `background` photo fitted to the canvas
    blend_region: np.ndarray | None = None  # H x W bool: where insertion may change the photo

    @property
    def ir_asc(self) -> np.ndarray:
        return self.control[..., 0]

    @property
    def ir_desc(self) -> np.ndarray:
        return self.control[..., 1]

    @property
    def structure(self) -> np.ndarray:
        return self.control[..., 2]

    @property
    def block_size(self) -> tuple[int, int]:
        """(H', W') of one identity block."""
        h, w = self.manifest["identity_block"]
        return int(h), int(w)

    def intensity(self, name: str) -> int:
        return routing_intensity(self.order.index(name) + 1)

    # Arrays are `control` / `identity` (what the pipeline's control_image= / identity_image= take); the same
    # as PIL images are `control_pil` / `identity_pil`, both properties.
    @property
    def control_pil(self):
        from PIL import Image

        return Image.fromarray(self.control, "RGB")

    @property
    def identity_pil(self):
        from PIL import Image

        return Image.fromarray(self.identity, "RGB")

    def control_image(self):
        """Deprecated: use `control_pil` (a property, like `control`)."""
        warnings.warn("CompiledScene.control_image() is deprecated; use the property control_pil",
                      DeprecationWarning, stacklevel=2)
        return self.control_pil

    def identity_image(self):
        """Deprecated: use `identity_pil` (a property, like `identity`)."""
        warnings.warn("CompiledScene.identity_image() is deprecated; use the property identity_pil",
                      DeprecationWarning, stacklevel=2)
        return self.identity_pil

    def save(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write control.png, identity.png and manifest.json into `directory`, all or nothing."""
        out = Path(directory)
        if out.exists() and not out.is_dir():
            raise SigmaError(f"output path exists and is not a folder: {out}")
        if out.is_dir() and not overwrite:
            _refuse_foreign(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = make_dir_beside(out, "new")
        try:
            self.control_pil.save(tmp / "control.png", format="PNG", compress_level=6)
            self.identity_pil.save(tmp / "identity.png", format="PNG", compress_level=6)
            (tmp / "manifest.json").write_text(json.dumps(self.manifest, indent=2) + "\n", encoding="utf-8")
            _move_into_place(tmp, out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return out


def _is_our_manifest(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def _refuse_foreign(out: Path) -> None:
    present = [name for name in OUTPUT_FILES if (out / name).exists()]
    if present and not _is_our_manifest(out / "manifest.json"):
        raise SigmaError(f"{out} already holds {', '.join(present)} not written by sigmascene; refusing to "
                         f"overwrite", hint="choose another output folder, or pass --force")


def _move_into_place(tmp: Path, out: Path) -> None:
    """Swap whole folders when the target holds only our files; else replace file by file, manifest last."""
    if not out.exists():
        os.rename(tmp, out)
        return
    others = [p for p in out.iterdir() if p.name not in OUTPUT_FILES]
    if not others:
        old = make_dir_beside(out, "old")
        os.rmdir(old)
        os.rename(out, old)
        try:
            os.rename(tmp, out)
        except OSError:
            os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    for name in OUTPUT_FILES:  # manifest.json last: a reader that sees the new manifest sees new images
        os.replace(tmp / name, out / name)
