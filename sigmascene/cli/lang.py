"""`sigmascene check` and `sigmascene fmt`: the language's own tools, like a compiler's -fsyntax-only and black."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import SigmaError
from ..files import write_text_atomic
from ._app import app
from .common import ROOT_HELP, SAFE_HELP, SET_HELP, console, parse_sets, scene_root


@app.command()
def check(
    files: list[Path] = typer.Argument(..., help="`.sigma` files to parse and validate."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP, metavar="NAME=VALUE"),
    as_json: bool = typer.Option(False, "--json", help="Print errors as JSON objects (file, line, column, message)."),
    safe: bool = typer.Option(False, "--safe", help=SAFE_HELP),
    root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP),
) -> None:
    """Parse and validate scene files; print `ok` or every error with its location."""
    from ..grammar import parse_file

    overrides = parse_sets(set_)
    problems = []
    for f in files:
        try:
            parse_file(f, overrides=overrides, root=scene_root(safe, root))
            if not as_json:
                print(f"{f}: ok")
        except SigmaError as err:
            problems += err.diagnostics
            if not as_json:
                print(err.format())
    if as_json:
        print(json.dumps([d.to_json() for d in problems], indent=2))
    if problems:
        if not as_json:
            n = len(problems)
            console.print(f"[red]{n} error{'s' if n != 1 else ''}[/red]")
        raise typer.Exit(1)


@app.command()
def fmt(
    files: list[Path] = typer.Argument(..., help="`.sigma` files to format in place."),
    check_only: bool = typer.Option(False, "--check", help="Change nothing; exit 1 if any file would change."),
    safe: bool = typer.Option(False, "--safe", help=SAFE_HELP),
    root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP),
) -> None:
    """Rewrite scene files in the canonical layout (comments kept). Idempotent."""
    from ..grammar import format_file

    changed, failed = [], False
    for f in files:
        try:
            new = format_file(f, root=scene_root(safe, root))
        except SigmaError as err:
            print(err.format())
            failed = True
            continue
        old = f.read_text(encoding="utf-8")
        if new == old:
            continue
        changed.append(f)
        if check_only:
            print(f"would reformat {f}")
        else:
            _write_atomic(f, new)
            print(f"reformatted {f}")
    if failed or (check_only and changed):
        raise typer.Exit(1)
    if not changed:
        print(f"{len(files)} file{'s' if len(files) != 1 else ''} already formatted")


def _write_atomic(path: Path, text: str) -> None:
    """Never leave a half-written scene behind: write beside it, then rename over it."""
    write_text_atomic(path, text)
