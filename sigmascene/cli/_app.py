"""The typer application every command module registers on; kept import-light so `sigmascene check` starts fast."""

import typer

app = typer.Typer(
    name="sigmascene",
    help="Scene language and 3D-aware compiler for SIGMA-GEN multi-subject image generation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
