"""`sigmascene train`: write a documented config (`--init`), or train / resume the SIGMA LoRA it describes.

Multi-GPU: `accelerate launch -m sigmascene.cli train cfg.toml` (or `accelerate launch $(which sigmascene) train
cfg.toml`); the same command line, every process runs this function.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

import typer

from ..errors import SigmaError
from ._app import app
from .common import ProgressTask, console, progress_bars, user_errors


@app.command("train")
def train_cmd(
    config: Optional[Path] = typer.Argument(None, metavar="CONFIG|RUN_DIR",
                                            help="Training config (TOML; create one with --init), or a run folder "
                                                 "to continue (its config.toml)."),
    init: Optional[Path] = typer.Option(None, "--init", metavar="FILE",
                                        help="Write a documented default config to FILE and exit."),
    set_: Optional[list[str]] = typer.Option(None, "--set", metavar="KEY=VALUE",
                                             help="Override a setting, e.g. --set optim.grad_accum=4 (repeatable)."),
    resume: str = typer.Option("auto", "--resume",
                               help="auto (newest good checkpoint of run.dir) | never | a checkpoint folder."),
    progress: bool = typer.Option(True, "--progress/--no-progress",
                                  help="Show progress (a bar on a terminal, a line every few seconds in a log)."),
    force: bool = typer.Option(False, "--force", help="With --init: overwrite an existing file."),
    config_opt: Optional[Path] = typer.Option(None, "--config", "-c", hidden=True),
) -> None:
    """Train the SIGMA LoRA on Flux Kontext.

    The paper's recipe; resumable; multi-GPU under accelerate."""
    from ..train.config_file import load_config, write_default

    if config is None:
        config = config_opt
    with user_errors():
        if init is not None:
            if config is not None or set_:
                raise SigmaError("--init writes a default config; it takes no CONFIG or --set",
                                 hint="edit the written file, then run `sigmascene train FILE`")
            path = write_default(init, force=force)
            print(f"wrote {path}: edit data.root and model.base, then `sigmascene train {path}`")
            return
        if config is None:
            raise SigmaError("no config given", hint="create one with `sigmascene train --init cfg.toml`")
        cfg = load_config(config, set_)
        from ..model.loading import quiet_libraries
        from ..train.loop import train

        quiet_libraries()  # the trainer's lines only; `sigmascene -v train ...` shows the libraries' warnings

        with progress_bars() as bars:
            tasks: dict[str, ProgressTask] = {}

            def show(what: str, done: int, total: int, fields: dict) -> None:
                task = tasks.get(what) or tasks.setdefault(what, bars.add(what, total, unit="it"))
                task.update(done, total, **fields)

            try:
                result = train(cfg, resume=resume, progress=show if progress else None, note=bars.note)
            except KeyboardInterrupt:
                bars.note("interrupted before the next checkpoint; work since the last one is redone")
                bars.note(resume_hint(cfg.run_dir, config, set_))
                raise typer.Exit(130) from None
    if result.interrupted:
        console.print(resume_hint(cfg.run_dir, config, set_), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(130)
    # the LoRA's path is in the trainer's own last line ("done: N steps, LoRA at ..."): said once


def _shown(path: Path) -> str:
    """A path as short as it is exact: relative to the working folder when inside it."""
    full = Path(path).absolute()
    try:
        return str(full.relative_to(Path.cwd()))
    except ValueError:
        return str(full)


def resume_hint(run_dir: Path, config: Path, sets: Optional[list[str]]) -> str:
    """The exact command that continues this run: the run folder when its config.toml (which holds every --set)
    was written, else the command as given, --set values and all."""
    from ..train.config_file import RUN_CONFIG

    if (Path(run_dir) / RUN_CONFIG).is_file():
        return f"continue with: sigmascene train {shlex.quote(_shown(run_dir))}"
    parts = ["sigmascene", "train", str(config)] + [a for s in sets or [] for a in ("--set", s)]
    return "continue with: " + " ".join(shlex.quote(a) for a in parts)


def main() -> None:
    """Entry point of `python -m sigmascene.train`: the same command without the `train` word."""
    import sys

    from typer.main import get_command

    cmd = get_command(app).commands["train"]  # type: ignore[attr-defined]  # typer's app is a click Group here
    cmd.main(args=sys.argv[1:], prog_name="python -m sigmascene.train")
