"""Running the synthesizer: worker processes, resume, progress, and the guarantee about `index.jsonl`.

Workers render and write a sample's files; only this (parent) process appends index lines, one whole line at a
time, in sample order. So the index is never interleaved, a killed run leaves no half entry, and re-running the
same command only renders the samples whose lines are missing.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, cast

from ...errors import AssetError, ConfigError, SigmaError
from ..lock import FolderLock
from ..io import append_sample, iter_index, repair_index, write_bytes_atomic
from ..schema import Sample
from .config import CONFIG_FILE, SynthConfig, sample_id
from .sample import SAMPLES_DIR, generate


@dataclass
class SynthReport:
    root: Path
    requested: int
    generated: int
    skipped: int
    seconds: float
    repaired_bytes: int = 0

    @property
    def samples_per_s(self) -> float:
        return self.generated / self.seconds if self.seconds > 0 else 0.0


def _check_config(root: Path, cfg: SynthConfig) -> None:
    """Refuse to resume into a folder rendered with other settings: its samples would come from another world."""
    path = root / CONFIG_FILE
    if path.exists():
        try:
            old = SynthConfig.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except Exception as e:  # noqa: BLE001 - any unreadable config is the same user problem
            raise AssetError(f"{path} is not a synth config ({e})",
                             hint="use an empty --out folder, or delete the file if the folder is yours") from None
        if old != cfg:
            diff = ", ".join(f"{k} {getattr(old, k)} -> {getattr(cfg, k)}" for k in SynthConfig.model_fields
                             if getattr(old, k) != getattr(cfg, k))
            raise ConfigError(f"{root} was synthesized with other settings ({diff}); resuming would mix two worlds",
                             hint="pass the original settings to extend it, or choose a new --out folder")
        return
    if (root / "index.jsonl").exists():
        raise ConfigError(f"{root} already holds a dataset that `data synth` did not make (no {CONFIG_FILE})",
                         hint="choose a new --out folder")
    write_bytes_atomic(path, (cfg.model_dump_json(indent=2) + "\n").encode("utf-8"))


def finished_ids(root: Path) -> set[str]:
    done = set()
    for _, text, complete in iter_index(root):
        if not complete:
            continue
        try:
            done.add(str(json.loads(text)["id"]))
        except (ValueError, KeyError, TypeError):
            continue  # `data validate` reports it; here it only means "not finished"
    return done


def _worker(conn, lp_threads: int) -> None:
    """A render process: (cfg, index, root) in, ("ok", index line) or ("err", exception) out, until None."""
    # Ctrl-C is the parent's to handle (it kills the workers); workers would only print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # llvmpipe starts one raster thread per core in every process; W workers x N cores threads would thrash.
    os.environ.setdefault("LP_NUM_THREADS", str(lp_threads))
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        cfg, index, root = job
        try:
            conn.send(("ok", generate(cfg, index, root).to_line()))
        except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
            try:
                conn.send(("err", exc))
            except Exception:  # noqa: BLE001 - an exception that does not pickle
                conn.send(("err", RuntimeError(f"{type(exc).__name__}: {exc}")))


class _Workers:
    """W spawned processes, one pipe each, no shared queues or locks: nothing a Ctrl-C can leave half-held
    (multiprocessing.Pool's queues could, and the parent then hung in a futex wait). Leaving the `with` block
    by an exception kills every worker at once; a sample a killed worker was writing is a .tmp folder the
    next run sweeps."""

    def __init__(self, n: int, lp_threads: int) -> None:
        ctx = mp.get_context("spawn")
        self.procs, self.conns = [], []
        for _ in range(n):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, lp_threads), daemon=True)
            proc.start()
            child.close()
            self.procs.append(proc)
            self.conns.append(parent)

    def imap(self, jobs: list[tuple]) -> Iterator[str]:
        """Index lines in job order, rendered W at a time."""
        from multiprocessing.connection import Connection, wait

        pending = iter(enumerate(jobs))
        busy: dict = {}  # connection -> job number
        results: dict[int, str] = {}
        following = 0

        def feed(conn) -> None:
            nxt = next(pending, None)
            if nxt is not None:
                conn.send(nxt[1])
                busy[conn] = nxt[0]

        for conn in self.conns:
            feed(conn)
        while busy:
            for ready in wait(list(busy), timeout=1.0):
                conn = cast(Connection, ready)  # wait() hands back the connections it was given
                try:
                    kind, value = conn.recv()
                except (EOFError, OSError):
                    raise SigmaError("a synth worker process died (out of memory?)",
                                     hint="run again with fewer --workers; finished samples are kept") from None
                if kind == "err":
                    raise value
                results[busy.pop(conn)] = value
                feed(conn)
            while following in results:
                yield results.pop(following)
                following += 1

    def close(self, kill: bool) -> None:
        for conn, proc in zip(self.conns, self.procs):
            if kill:
                proc.kill()
            else:
                try:
                    conn.send(None)
                except OSError:
                    pass
        for conn, proc in zip(self.conns, self.procs):
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
            conn.close()

    def __enter__(self) -> "_Workers":
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        self.close(kill=exc_type is not None)


def synthesize(out: str | Path, count: int, cfg: SynthConfig, workers: int = 2,
               on_progress: Optional[Callable[[int, int], None]] = None, ray: Optional[str] = None) -> SynthReport:
    """Make samples 0..count-1 of world `cfg` in `out`, skipping those already in its index.

    `on_progress(done, total)` is called after every appended sample (the CLI draws a bar with it). `ray`
    ("auto", an address, or "local") renders on a Ray cluster instead of local worker processes. A second
    writer on the same folder is refused (a lock file naming the first); Ctrl-C stops within a second.
    """
    if count < 0:
        raise ConfigError(f"--count must be positive, got {count}")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    with FolderLock(root, "sigmascene data synth"):
        return _synthesize(root, count, cfg, workers, on_progress, ray)


def _synthesize(root: Path, count: int, cfg: SynthConfig, workers: int,
                on_progress: Optional[Callable[[int, int], None]], ray: Optional[str]) -> SynthReport:
    _check_config(root, cfg)
    repaired = repair_index(root)
    done = finished_ids(root)
    for stale in (root / SAMPLES_DIR).glob("*.tmp") if (root / SAMPLES_DIR).exists() else []:
        shutil.rmtree(stale, ignore_errors=True)  # a sample a killed worker was writing
    todo = [i for i in range(count) if sample_id(i) not in done]
    skipped = count - len(todo)
    start = time.perf_counter()
    generated = 0
    if on_progress:
        on_progress(skipped, count)
    if todo and ray:
        from .ray_synth import synth_lines

        for line in synth_lines(cfg, todo, root, ray):
            append_sample(root, Sample.model_validate_json(line))
            generated += 1
            if on_progress:
                on_progress(skipped + generated, count)
    elif todo and workers <= 1:
        for i in todo:
            append_sample(root, generate(cfg, i, root))
            generated += 1
            if on_progress:
                on_progress(skipped + generated, count)
    elif todo:
        lp = max(1, (os.cpu_count() or 1) // workers)
        with _Workers(min(workers, len(todo)), lp) as pool:
            for line in pool.imap([(cfg, i, str(root)) for i in todo]):
                append_sample(root, Sample.model_validate_json(line))
                generated += 1
                if on_progress:
                    on_progress(skipped + generated, count)
    return SynthReport(root=root, requested=count, generated=generated, skipped=skipped,
                       seconds=time.perf_counter() - start, repaired_bytes=repaired)
