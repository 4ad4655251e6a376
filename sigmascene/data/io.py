"""Reading and writing dataset folders without ever leaving a half-written sample behind.

A sample's files are written first (each atomically: temp file + rename) and its `index.jsonl` line last, in a
single `write()` on an O_APPEND descriptor. So a run killed at any moment leaves either a complete line or, at
worst (disk full, power loss), an unterminated tail that `repair_index` cuts off and `load_dataset` refuses to
read as a sample.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np
from pydantic import ValidationError

from ..errors import AssetError, Diagnostic, SourceLoc
from ..core.files import file_sha256, write_bytes_atomic  # noqa: F401  (re-exported: data tools use them from here)
from .schema import Sample

INDEX = "index.jsonl"


def index_path(root: str | Path) -> Path:
    return Path(root) / INDEX


def resolve(root: str | Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else Path(root) / p


def relpath(root: str | Path, path: str | Path) -> str:
    """`path` as the index stores it: relative to the dataset root with '/', or absolute when outside it."""
    p, r = Path(path).absolute(), Path(root).absolute()
    try:
        return p.relative_to(r).as_posix()
    except ValueError:
        return p.as_posix()


# -- index lines ------------------------------------------------------------------------------------------------
def iter_index(root: str | Path) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, complete) for every non-blank line; `complete` is False for an unterminated tail."""
    path = index_path(root)
    if not path.exists():
        return
    data = path.read_bytes()
    lines = data.split(b"\n")
    for i, raw in enumerate(lines):
        last = i == len(lines) - 1
        if not raw.strip():
            continue
        yield i + 1, raw.decode("utf-8", errors="replace"), not last


def parse_line(text: str, line: int, file: str) -> tuple[Sample | None, list[Diagnostic]]:
    """One index line to a Sample, or the located problems that stop it from being one."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return None, [Diagnostic(f"not valid JSON: {e.msg}", SourceLoc(file, line, e.colno))]
    if not isinstance(obj, dict):
        return None, [Diagnostic("a sample must be a JSON object", SourceLoc(file, line, 1))]
    try:
        sample = Sample.model_validate(obj)
    except ValidationError as e:
        out = []
        for err in e.errors():
            where = ".".join(str(p) for p in err["loc"]) or "sample"
            out.append(Diagnostic(f"{where}: {err['msg']}", SourceLoc(file, line, 1)))
        return None, out
    sample.line = line
    return sample, []


def load_dataset(root: str | Path) -> list[Sample]:
    """Every sample of a dataset folder, each with `.line` set; one SigmaError listing all unreadable lines."""
    path = index_path(root)
    if not path.exists():
        raise AssetError(f"no {INDEX} in {root}", hint="a dataset is a folder holding index.jsonl "
                         "(create one with `sigmascene data synth` or `sigmascene data import`)")
    samples, problems = [], []
    file = str(path)
    for line, text, complete in iter_index(root):
        if not complete:
            problems.append(Diagnostic("unterminated last line (an interrupted write?)", SourceLoc(file, line, 1),
                                       "re-run `data synth` to repair it, or delete the line"))
            continue
        sample, diags = parse_line(text, line, file)
        problems += diags
        if sample is not None:
            samples.append(sample)
    if problems:
        raise AssetError(problems)
    return samples


def repair_index(root: str | Path) -> int:
    """Cut an unterminated tail off index.jsonl (what an interrupted append may leave); returns bytes removed."""
    path = index_path(root)
    if not path.exists():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    with open(path, "r+b") as fh:
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    return len(data) - keep


def append_sample(root: str | Path, sample: Sample) -> None:
    """Append one sample line in a single write, so readers see the whole line or nothing."""
    data = (sample.to_line() + "\n").encode("utf-8")
    fd = os.open(index_path(root), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # mode: the umask decides
    try:
        written = os.write(fd, data)
        if written != len(data):  # only on a full disk; leave a tail repair_index will cut
            raise OSError(f"short write to {INDEX}: {written} of {len(data)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)


def write_index(root: str | Path, samples: list[Sample]) -> None:
    """Replace index.jsonl atomically (used by tools that rewrite samples, such as `fit-boxes`)."""
    text = "".join(s.to_line() + "\n" for s in samples)
    write_bytes_atomic(index_path(root), text.encode("utf-8"))


# -- files ------------------------------------------------------------------------------------------------------


def save_png(path: str | Path, array: np.ndarray, compress_level: int = 1) -> None:
    """Write an 8-bit image (HxW or HxWx3); low zlib effort because the synthesizer is bound by it otherwise."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=compress_level)
    write_bytes_atomic(path, buf.getvalue())


def save_npy(path: str | Path, array: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    write_bytes_atomic(path, buf.getvalue())


def load_rgb(path: str | Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def load_mask(path: str | Path) -> np.ndarray:
    """A mask image as booleans; non-zero in any channel (alpha included) is the subject."""
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im)
    return np.asarray(a.any(axis=2) if a.ndim == 3 else a != 0)


def load_depth(path: str | Path) -> np.ndarray:
    """A depth map in metres: `.npy` float (the dataset format) or a 16-bit PNG in millimetres (common exports)."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        arr = np.load(path, allow_pickle=False)
    else:
        from PIL import Image

        with Image.open(path) as im:
            arr = np.asarray(im).astype(np.float32) / 1000.0
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return arr
