"""`sigmascene check` and `sigmascene fmt`: the language's own tools, like a compiler's -fsyntax-only and black."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import SigmaError
from ..core.files import write_bytes_atomic
from ._app import app
from .common import ROOT_HELP, SAFE_HELP, SET_HELP, console, parse_sets, scene_root


@app.command()
def check(
    files: list[Path] = typer.Argument(..., help="`.sigma` files to parse and validate."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP, metavar="NAME=VALUE"),
    as_json: bool = typer.Option(False, "--json", help="Print the errors on stdout as a JSON list of objects with "
                                 "file, line, column, severity, message, hint and related (other places of the "
                                 "same problem: message, file, line, column)."),
    syntax_only: bool = typer.Option(False, "--syntax-only", help="Only the language: skip checking that "
                                     "referenced files (refs, masks, meshes, depth maps) exist and decode."),
    safe: bool = typer.Option(False, "--safe", help=SAFE_HELP),
    root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP),
) -> None:
    """Check scene files and the files they name.

    Prints `ok`, or every error with its location (syntax, values, names, missing files) in one run."""
    from ..compiler.filecheck import check_scene_file

    overrides = parse_sets(set_)
    problems = []
    for f in files:
        found = check_scene_file(f, overrides=overrides, syntax_only=syntax_only, root=scene_root(safe, root))
        problems += found
        if as_json:
            continue
        if found:
            for d in found:  # diagnostics on stderr, as `compile` prints them; stdout keeps the `ok` lines
                print(d.format(), file=sys.stderr)
        else:
            print(f"{f}: ok")
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
    from ..grammar.sources import LineEnds

    changed, failed = [], False
    for f in files:
        try:
            new = format_file(f, root=scene_root(safe, root))
        except SigmaError as err:
            print(err.format(), file=sys.stderr)
            failed = True
            continue
        raw = f.read_bytes()
        ends = LineEnds.of(raw)
        old = LineEnds.text(raw)
        if new == old:
            continue
        changed.append(f)
        if check_only:
            print(f"would reformat {f}")
        else:  # the file keeps its own line ends and BOM (a Windows file came back LF-only, its BOM gone)
            _write_atomic(f, ends.encode(new))
            print(f"reformatted {f}")
    if failed or (check_only and changed):
        raise typer.Exit(1)
    if not changed:
        print(f"{len(files)} file{'s' if len(files) != 1 else ''} already formatted")


def _write_atomic(path: Path, data: bytes) -> None:
    """Never leave a half-written scene behind: write beside it, then rename over it. A symlinked scene is written
    through the link (renaming over the link replaced it with a copy and left the real file unformatted)."""
    write_bytes_atomic(path.resolve(), data)
