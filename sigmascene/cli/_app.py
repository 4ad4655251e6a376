"""The typer application every command module registers on; kept import-light so `sigmascene check` starts fast."""

import typer

app = typer.Typer(
    name="sigmascene",
    help="Scene language and 3D-aware compiler for SIGMA-GEN multi-subject image generation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help is plain text: rich markup would eat "[weights]", "[env SIGMASCENE_BASE]"
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"sigmascene {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Also show the libraries' own warnings "
                                 "(transformers, diffusers), each once; without it sigmascene's output is all."),
) -> None:
    """Scene language and 3D-aware compiler for SIGMA-GEN multi-subject image generation."""
    import os

    # read by model.loading.quiet_libraries (and inherited by worker processes); set, never cleared, per run
    os.environ["SIGMASCENE_VERBOSE"] = "1" if verbose else "0"
