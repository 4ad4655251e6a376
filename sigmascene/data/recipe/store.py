"""Per-sample stage outputs, content-addressed, so a killed build resumes without redoing or trusting anything.

A stage output lives in `OUT/.build/work/<stage>/<kk>/<key>/`, where `key` hashes the stage's settings, its
models' ids, the sample's seed and the upstream stage's key. An output is written into a temporary folder
(files first, `result.json` last) and renamed into place in one `os.replace`, so a folder that exists is whole;
a temporary folder a kill left behind is never read and is swept on the next run.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

WORK = Path(".build") / "work"
RESULT = "result.json"


@dataclass
class Outcome:
    """What a stage made of one sample: kept (with data and files) or rejected by a named filter."""

    ok: bool = True
    data: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    filter: str = ""
    reason: str = ""

    @classmethod
    def reject(cls, filter: str, reason: str) -> "Outcome":
        return cls(ok=False, filter=filter, reason=reason)


@dataclass
class Stored:
    """A finished stage output read back from the store."""

    dir: Path
    ok: bool
    data: dict[str, Any]
    filter: str
    reason: str
    seconds: float

    def path(self, name: str) -> Path:
        return self.dir / name

    def image(self, name: str):
        from PIL import Image

        with Image.open(self.dir / name) as im:
            return im.convert("RGB")

    def mask(self, name: str) -> np.ndarray:
        from ..io import load_mask

        return load_mask(self.dir / name)


def png_bytes(image) -> bytes:
    """PIL image or uint8 array to PNG bytes (fixed compression level, so equal pixels give equal bytes)."""
    from PIL import Image

    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.ascontiguousarray(image))
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array))
    return buf.getvalue()


class Store:
    def __init__(self, out: str | Path):
        self.root = Path(out) / WORK

    def dir(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:2] / key

    def get(self, stage: str, key: str) -> Stored | None:
        d = self.dir(stage, key)
        try:
            r = json.loads((d / RESULT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return Stored(d, r["ok"], r.get("data", {}), r.get("filter", ""), r.get("reason", ""), r.get("seconds", 0.0))

    def put(self, stage: str, key: str, outcome: Outcome, seconds: float) -> None:
        final = self.dir(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".tmp-{key[:12]}-"))
        try:
            for name, data in outcome.files.items():
                (tmp / name).write_bytes(data)
            result = {"ok": outcome.ok, "data": outcome.data, "filter": outcome.filter, "reason": outcome.reason,
                      "seconds": seconds}
            (tmp / RESULT).write_text(json.dumps(result, sort_keys=True), encoding="utf-8")
            try:
                os.replace(tmp, final)
            except OSError:  # another worker (a retried Ray task) finished it first: same key, same content
                if not (final / RESULT).exists():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def sweep(self) -> int:
        """Remove temporary folders a killed run left behind; returns how many."""
        n = 0
        if self.root.exists():
            for tmp in self.root.glob("*/*/.tmp-*"):
                shutil.rmtree(tmp, ignore_errors=True)
                n += 1
        return n
