"""`sigmascene` command line. Each module below adds its commands to the shared typer app."""

from ._app import app

# Command modules (one per capability); importing registers their commands.
from . import lang  # noqa: F401  check, fmt
# -- more command modules register here, one line each --
from . import render  # noqa: F401  render
from . import maps  # noqa: F401  compile, preview
from . import train_cmd  # noqa: F401  train
from . import eval_cmd  # noqa: F401  eval make-set, run, score
from . import data_cmd  # noqa: F401  data synth, validate, stats, show, fit-boxes, import
from . import data_build  # noqa: F401  data build
from . import edit  # noqa: F401  edit (the browser editor)


def main() -> None:
    app()
