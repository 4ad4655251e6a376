"""`sigmascene train`: write a documented config (`--init`), or train / resume the SIGMA LoRA it describes.

Multi-GPU: `accelerate launch -m sigmascene.train cfg.toml` (or `accelerate launch $(which sigmascene) train
cfg.toml`); the same command line, every process runs this function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import SigmaError
from ._app import app
from .common import console, user_errors


@app.command("train")
def train_cmd(
    config: Optional[Path] = typer.Argument(None, help="Training config (TOML); create one with --init."),
    init: Optional[Path] = typer.Option(None, "--init", metavar="FILE",
                                        help="Write a documented default config to FILE and exit."),
    set_: Optional[list[str]] = typer.Option(None, "--set", metavar="KEY=VALUE",
                                             help="Override a setting, e.g. --set optim.grad_accum=4 (repeatable)."),
    resume: str = typer.Option("auto", "--resume",
                               help="auto (newest good checkpoint of run.dir) | never | a checkpoint folder."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
    force: bool = typer.Option(False, "--force", help="With --init: overwrite an existing file."),
) -> None:
    """Train the SIGMA LoRA on Flux Kontext with the paper's recipe (resumable; multi-GPU under accelerate)."""
    from ..train.config_file import load_config, write_default

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
        from ..train.loop import train

        result = train(cfg, resume=resume, progress=progress)
    if result.interrupted:
        raise typer.Exit(130)
    if result.lora is not None:
        console.print(f"LoRA: {result.lora}", highlight=False)


def main() -> None:
    """Entry point of `python -m sigmascene.train`: the same command without the `train` word."""
    import sys

    from typer.main import get_command

    cmd = get_command(app).commands["train"]  # type: ignore[attr-defined]
    cmd.main(args=sys.argv[1:], prog_name="python -m sigmascene.train")
