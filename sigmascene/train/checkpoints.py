"""Checkpoints that a kill -9 cannot corrupt: written whole into a hidden temp folder, then renamed into place.

A checkpoint is a folder `checkpoints/step-00001234/` holding the LoRA (a SIGMA LoRA file, loadable as is), the
optimizer and LR-scheduler states, every rank's RNG states, and `state.json` (step, curriculum stage, sampler
position, config hash). `manifest.json` — size and sha256 of each file — is written last, before the rename.
Because rename is atomic, a reader sees either the complete folder or nothing; a temp folder left by a killed save
is ignored and swept. `latest` also checks the manifest, so even a damaged folder (a disk error, a hand edit) is
skipped for the previous good one rather than loaded. Old checkpoints are renamed away before deletion for the
same reason.

`SIGMASCENE_TRAIN_SAVE_SLEEP=<seconds>` makes a save pause half-way (after the LoRA, before the optimizer): the
kill-during-save test uses it to land its SIGKILL inside a save deterministically.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..core.files import file_sha256
from ..errors import SigmaError

CKPT_DIR = "checkpoints"
NAME_RE = re.compile(r"^step-(\d{8})$")
MANIFEST = "manifest.json"
STATE = "state.json"
LORA = "lora.safetensors"
OPTIMIZER = "optimizer.pt"
SCHEDULER = "scheduler.pt"
RNG = "rng.pt"
SLEEP_ENV = "SIGMASCENE_TRAIN_SAVE_SLEEP"


def checkpoint_root(run_dir: str | Path) -> Path:
    return Path(run_dir) / CKPT_DIR


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        _fsync_file(path)
    except OSError:  # some filesystems cannot fsync a directory; the rename is still atomic
        pass


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn a failed write of `path` into one clean SigmaError naming the file.

    A full disk or a read-only run folder surfaces from torch.save as RuntimeError (its C++ stream writer) and from
    safetensors as SafetensorError, not as OSError, so the command line's OSError guard never sees them; they are
    caught here, at the writes that can fail that way, rather than by a blanket `except RuntimeError` higher up
    that would also hide real bugs.
    """
    from safetensors import SafetensorError

    try:
        yield
    except SigmaError:
        raise
    except (OSError, RuntimeError, SafetensorError) as err:
        text = str(err).strip()
        reason = getattr(err, "strerror", None) or (text.splitlines()[-1] if text else type(err).__name__)
        raise SigmaError(f"cannot write {path}: {reason}",
                         hint="free some disk space or choose a writable run.dir (--set run.dir=...), then run "
                              "the same command again: it continues from the last complete checkpoint") from None


def _torch_save(obj: Any, path: Path) -> None:
    import torch

    with writing(path):
        torch.save(obj, path)


@dataclass
class Checkpoint:
    path: Path
    step: int
    state: dict

    def load(self, name: str) -> Any:
        """A torch-saved part (optimizer, scheduler, rng); our own files, so full unpickling is allowed."""
        import torch

        return torch.load(self.path / name, map_location="cpu", weights_only=False)

    @property
    def lora_path(self) -> Path:
        return self.path / LORA


def save_checkpoint(run_dir: str | Path, step: int, *, transformer: Any, lora: dict, optimizer: dict,
                    scheduler: dict, rng: list, state: dict, keep: int) -> Path:
    """Write checkpoint `step` atomically, then delete all but the newest `keep`. Call on rank 0 only."""
    from ..model.lora import save_sigma_lora

    root = checkpoint_root(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    tmp = root / f".{name}.tmp-{os.getpid()}-{time.monotonic_ns()}"
    tmp.mkdir()
    try:
        with writing(tmp / LORA):
            save_sigma_lora(tmp / LORA, transformer, rank=lora["rank"], alpha=lora["alpha"],
                            condition_mask=lora["condition_mask"], config_hash=lora["config_hash"])
        sleep = float(os.environ.get(SLEEP_ENV, "0") or 0)
        if sleep > 0:
            time.sleep(sleep)
        _torch_save(optimizer, tmp / OPTIMIZER)
        _torch_save(scheduler, tmp / SCHEDULER)
        _torch_save(rng, tmp / RNG)
        (tmp / STATE).write_text(json.dumps(dict(state, step=step), indent=2, sort_keys=True) + "\n")
        files = {}
        for p in sorted(tmp.iterdir()):
            _fsync_file(p)
            files[p.name] = {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
        (tmp / MANIFEST).write_text(json.dumps({"step": step, "files": files}, indent=2, sort_keys=True) + "\n")
        _fsync_file(tmp / MANIFEST)
        _fsync_dir(tmp)
        final = root / name
        if final.exists():  # a resumed run saving the same step again: swap the old one out first
            _discard(final)
        os.rename(tmp, final)
        _fsync_dir(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    prune(run_dir, keep)
    return final


def _discard(path: Path) -> None:
    """Rename out of the `step-*` namespace, then delete: a kill half-way never leaves a half-deleted checkpoint."""
    trash = path.with_name(f".trash-{path.name}-{time.monotonic_ns()}")
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def verify(path: Path, *, hashes: bool = True) -> dict | None:
    """The state of a checkpoint folder whose manifest matches its files, else None."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        for fname, meta in manifest["files"].items():
            f = path / fname
            if not f.is_file() or f.stat().st_size != meta["bytes"]:
                return None
            if hashes and file_sha256(f) != meta["sha256"]:
                return None
        state = json.loads((path / STATE).read_text())
        if int(state["step"]) != int(manifest["step"]):
            return None
        return state
    except (OSError, ValueError, KeyError, TypeError):
        return None


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) of every complete-looking checkpoint name, oldest first (not verified)."""
    root = checkpoint_root(run_dir)
    if not root.is_dir():
        return []
    out = []
    for p in root.iterdir():
        m = NAME_RE.match(p.name)
        if m and p.is_dir():
            out.append((int(m.group(1)), p))
    return sorted(out)


def latest(run_dir: str | Path) -> Checkpoint | None:
    """The newest checkpoint that verifies; damaged ones are skipped (and reported by `damaged`)."""
    for step, path in reversed(list_checkpoints(run_dir)):
        state = verify(path)
        if state is not None:
            return Checkpoint(path, step, state)
    return None


def open_checkpoint(path: str | Path) -> Checkpoint:
    p = Path(path)
    m = NAME_RE.match(p.name)
    state = verify(p) if p.is_dir() else None
    if m is None or state is None:
        raise SigmaError(f"{p} is not a complete sigmascene checkpoint",
                         hint="pass --resume auto to pick the newest good one")
    return Checkpoint(p, int(m.group(1)), state)


def sweep(run_dir: str | Path) -> list[str]:
    """Remove temp and trash folders that killed saves left behind; returns their names."""
    root = checkpoint_root(run_dir)
    if not root.is_dir():
        return []
    gone = []
    for p in root.iterdir():
        if p.name.startswith((".step-", ".trash-")):
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p.name)
    return gone


def prune(run_dir: str | Path, keep: int) -> None:
    """Keep the newest `keep` verified checkpoints; damaged ones older than the newest good one go too."""
    ckpts = list_checkpoints(run_dir)
    good = [(s, p) for s, p in ckpts if verify(p, hashes=False) is not None]
    keep_paths = {p for _, p in good[-keep:]}
    newest_good = good[-1][0] if good else None
    for step, path in ckpts:
        if path in keep_paths:
            continue
        if newest_good is not None and step < newest_good:
            _discard(path)


def capture_rng() -> dict:
    """This process's global RNG states (python, numpy, torch, CUDA); the loop's own streams are stateless."""
    import random

    import numpy as np
    import torch

    out = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def restore_rng(states: dict) -> None:
    import random

    import numpy as np
    import torch

    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
