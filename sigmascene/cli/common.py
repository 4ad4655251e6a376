"""What every command shares: `--set` parsing, scene loading, and turning SigmaError into a clean exit."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, NoReturn, Optional

import typer
from rich.console import Console

from ..errors import ConfigError, SigmaError
from ..model.loading import DTYPE_HELP, DTYPES  # noqa: F401  (the one table; commands import it from here)

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

console = Console(stderr=True, highlight=False)

SET_HELP = "Override a `param`: NAME=VALUE (repeatable)."
LONG_RUN_S = 600  # a command that will clearly run longer says so before it starts


def announce_estimate(seconds: float | None, what: str, shorter: str) -> None:
    """Print the estimate of a long run before it starts (nothing for a run of minutes, or an unknown one)."""
    if seconds is None or seconds <= LONG_RUN_S:
        return
    span = f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min"
    console.print(f"{what} will take about {span} on a laptop CPU (estimate); {shorter}", style="yellow",
                  markup=False, soft_wrap=True, highlight=False)
#: Every --dtype takes the loader's one table; fp8 stores the transformer's weights in float8 (bf16 math).


def parse_sets(sets: Optional[list[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in sets or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(SigmaError(f"--set expects NAME=VALUE, got {item!r}", hint="for example: --set rug_x=0.4"))
        out[name.strip()] = value.strip()
    return out


SAFE_HELP = "Confine every file the scene names (include, ref, mask, depth map, mesh, background) to its folder."
ROOT_HELP = "Confine every file the scene names to DIR (implies --safe)."


def scene_root(safe: bool, root: Optional[Path]) -> "Path | bool | None":
    """What `--safe` / `--root DIR` mean for the library's `root=`: True = the scene's own folder."""
    if root is not None and not root.is_dir():  # else every file was "outside the allowed folder" (a file, or none)
        fail(ConfigError(f"--root {root} is {'a file, not a folder' if root.exists() else 'not an existing folder'}",
                         hint="pass the folder the scene and its files lie in, or --safe for the scene's own"))
    return root if root is not None else (True if safe else None)


def load_scene(path: Path, sets: Optional[list[str]] = None, root: "Path | bool | None" = None):
    """Load + validate a scene file for a command, exiting cleanly on any user error."""
    from ..grammar import load

    with user_errors():
        return load(path, overrides=parse_sets(sets), root=root)


def fail(err: SigmaError) -> NoReturn:
    print(err.format(), file=sys.stderr)
    raise typer.Exit(1)


@contextmanager
def user_errors() -> Iterator[None]:
    """Print SigmaError the way a compiler does and exit 1, instead of a traceback."""
    try:
        yield
    except SigmaError as err:
        fail(err)
    except OSError as err:  # a full disk, a read-only folder: say which file, never a traceback
        blocker = _file_in_the_way(err)
        if blocker is not None:  # "File exists" / "Not a directory" named the wrong problem
            fail(SigmaError(f"cannot use {err.filename}: {blocker} is a file, not a folder",
                            hint="choose another folder, or move that file away"))
        name = f" {err.filename}" if err.filename else ""
        fail(SigmaError(f"cannot write or read{name}: {err.strerror or err}",
                        hint="check free space and permissions, or choose another folder"))


def _file_in_the_way(err: OSError) -> Optional[Path]:
    """The existing non-folder where a folder was needed (mkdir over a file, a path through a file), if any."""
    import errno

    if err.errno not in (errno.EEXIST, errno.ENOTDIR) or not err.filename:
        return None
    path = Path(os.fsdecode(err.filename))
    for p in (path, *path.parents):
        if p.exists():
            return p if not p.is_dir() and (p != path or err.errno == errno.EEXIST) else None
    return None


def parse_identity_size(text: Optional[str]) -> Optional[tuple[int, int]]:
    """`--identity-size HxW` as (H, W); None keeps the compiler's default (half the canvas)."""
    if text is None:
        return None
    h, sep, w = text.lower().partition("x")
    if not sep or not h.strip().isdigit() or not w.strip().isdigit():
        raise SigmaError(f"--identity-size expects HxW in pixels, got {text!r}", hint="for example: 512x512")
    return int(h), int(w)


# -- progress: a rich bar on a terminal, plain lines in a log ------------------------------------------------

PROGRESS_EVERY_ENV = "SIGMASCENE_PROGRESS_EVERY"


def interactive() -> bool:
    """Bars only when a person watches both streams; a job's log (`> log 2>&1`, a pipe) gets plain lines."""
    return console.is_terminal and sys.stdout.isatty()


def _duration(seconds: float) -> str:
    s = int(max(seconds, 0))
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class ProgressTask:
    """One line of work: `update(done, total, **fields)` or `advance(n, **fields)`; fields are short strings."""

    def __init__(self, owner: "ProgressBars", label: str, total: Optional[int], unit: str) -> None:
        import time

        self._owner, self.label, self.total, self.unit = owner, label, total, unit
        self.done = 0
        self.fields: dict[str, str] = {}
        self._t0 = time.monotonic()
        self._first: Optional[tuple[float, int]] = None
        self._printed, self._ended = self._t0, False
        self._rich_id = owner._rich_add(self) if owner._rich is not None else None

    def update(self, done: int, total: Optional[int] = None, **fields: object) -> None:
        import time

        now = time.monotonic()
        if self._first is None:
            self._first = (now, done)  # rate counts from here: resumed work already done is not this run's speed
        self.done = done
        if total is not None:
            self.total = total
        self.fields.update({k: str(v) for k, v in fields.items()})
        self._owner._show(self, now)

    def advance(self, n: int = 1, **fields: object) -> None:
        self.update(self.done + n, None, **fields)

    def rate(self, now: float) -> float:
        if self._first is None or now <= self._first[0]:
            return 0.0
        return (self.done - self._first[1]) / (now - self._first[0])

    def line(self, now: float) -> str:
        """`train: 120/2000 (6%) stage 1 loss 0.4123 1.9 it/s eta 16m29s elapsed 1m03s`"""
        parts = [f"{self.label}:", f"{self.done}/{self.total}" if self.total else str(self.done)]
        if self.total:
            parts.append(f"({100 * self.done / self.total:.0f}%)")
        parts += [f"{k} {v}" if k != "status" else v for k, v in self.fields.items() if v != ""]
        r = self.rate(now)
        if r > 0:
            parts.append(f"{r:.2f} {self.unit}/s" if r < 10 else f"{r:.0f} {self.unit}/s")
            if self.total and self.done < self.total:
                parts.append(f"eta {_duration((self.total - self.done) / r)}")
        parts.append(f"elapsed {_duration(now - self._t0)}")
        return " ".join(parts)


class ProgressBars:
    """The one progress display of every long command: `add(label, total)` gives a task; `note(text)` prints a
    line above the bars. Library code never sees this object, only the callbacks a command builds from it."""

    def __init__(self, every: Optional[float] = None, bars: Optional[bool] = None) -> None:
        import os

        self.every = float(os.environ.get(PROGRESS_EVERY_ENV, "5")) if every is None else every
        self._rich: Progress | None = None
        if interactive() if bars is None else bars:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._rich = Progress(TextColumn("[bold]{task.fields[label]}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[extra]}"), TimeRemainingColumn(), console=console,
                                  transient=False)

    def __enter__(self) -> "ProgressBars":
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.stop()

    def add(self, label: str, total: Optional[int] = None, unit: str = "it") -> ProgressTask:
        return ProgressTask(self, label, total, unit)

    def note(self, text: str, style: Optional[str] = None) -> None:
        console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    def _rich_add(self, task: ProgressTask) -> TaskID:
        from rich.markup import escape

        assert self._rich is not None  # called only when the bars are rich ones
        return self._rich.add_task("", total=task.total, label=escape(task.label), extra="")

    def _show(self, task: ProgressTask, now: float) -> None:
        if self._rich is not None and task._rich_id is not None:
            from rich.markup import escape

            r = task.rate(now)
            extra = " ".join(f"{k} {v}" if k != "status" else v for k, v in task.fields.items() if v != "")
            extra += f" {r:.2f} {task.unit}/s" if r > 0 else ""
            self._rich.update(task._rich_id, completed=task.done, total=task.total, extra=escape(extra))
            return
        finished = task.total is not None and task.done >= task.total
        if task._ended:
            return
        if finished or now - task._printed >= self.every:
            console.print(task.line(now), markup=False, highlight=False, soft_wrap=True)
            task._printed, task._ended = now, finished


@contextmanager
def progress_bars(every: Optional[float] = None) -> Iterator[ProgressBars]:
    """`with progress_bars() as bars: task = bars.add("synth", 200); task.update(k)` — bars on a terminal, a plain
    line every few seconds (env SIGMASCENE_PROGRESS_EVERY, default 5) when the output goes to a log."""
    with ProgressBars(every) as bars:
        yield bars


def command_line() -> list[str]:
    """The command as the user typed it (`sigmascene ...`), for "run this again to continue" messages."""
    from pathlib import Path as _P

    args = list(sys.argv[1:])
    prog = _P(sys.argv[0]).name if sys.argv else "sigmascene"
    return ["sigmascene" if prog in ("sigmascene", "__main__.py", "-c") else prog, *args]
