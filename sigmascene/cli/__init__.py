"""`sigmascene` command line. Each module below adds its commands to the shared typer app."""

from ._app import app

# Command modules (one per capability); importing registers their commands.
from . import lang  # noqa: F401 - importing registers: check, fmt
# -- more command modules register here, one line each --
from . import render  # noqa: F401 - importing registers: render
from . import maps  # noqa: F401 - importing registers: compile, preview
from . import train_cmd  # noqa: F401 - importing registers: train
from . import eval_cmd  # noqa: F401 - importing registers: eval make-set, run, score
from . import data_cmd  # noqa: F401 - importing registers: data synth, validate, stats, show, fit-boxes, import
from . import data_build  # noqa: F401 - importing registers: data build
from . import edit  # noqa: F401 - importing registers: edit (the browser editor)


def main() -> None:
    app()
