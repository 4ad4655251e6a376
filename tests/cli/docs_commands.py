"""Every `sigmascene ...` command the README and docs/*.md show, and a check of one against the live CLI.

Driven by the typer app itself (click introspection), not by a list of today's commands: a command another
branch adds is checked as soon as the docs show it, and a renamed flag fails here instead of for a user.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

try:  # typer >= 0.26 carries its own click; older ones use the click package
    from typer._click import core as _core
    from typer._click import exceptions as _exc
except ImportError:  # pragma: no cover
    import click.core as _core
    import click.exceptions as _exc

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_SHELL = {"json", "python", "toml", "sigma", "text"}  # code blocks that hold no commands


@dataclass
class DocCommand:
    file: Path
    line: int
    text: str
    block: bool  # from a code block (runnable as written) or an inline `code` span (a synopsis)
    lang: str = ""

    def __str__(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}: {self.text}"


def _strip_comment(line: str) -> str:
    """Drop a shell comment (a `#` outside quotes, after whitespace)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def doc_commands() -> list[DocCommand]:
    out: list[DocCommand] = []
    for path in DOC_FILES:
        lines = path.read_text(encoding="utf-8").splitlines()
        in_block, lang, pending, start = False, "", "", 0
        for n, raw in enumerate(lines, 1):
            if raw.lstrip().startswith("```"):
                in_block, lang = (not in_block), raw.strip().strip("`").strip().lower()
                continue
            if in_block:
                if lang in NOT_SHELL:
                    continue
                line = _strip_comment(raw.strip().removeprefix("$ "))
                if pending:
                    pending, line = pending + " " + line, ""
                    if not pending.endswith("\\"):
                        line, pending = pending, ""
                elif line.endswith("\\"):
                    pending, start = line, n
                    continue
                else:
                    start = n
                line = line.replace("\\ ", " ").rstrip("\\").strip()
                for part in re.split(r"\s*(?:&&|;|\|\|)\s*", line):
                    if part.startswith("sigmascene "):
                        out.append(DocCommand(path, start, part.strip(), True, lang))
                continue
            for span in re.findall(r"`(sigmascene [^`]+)`", raw):
                out.append(DocCommand(path, n, span.replace("\\|", "|"), False))
    return out


def tokens(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _option_names(cmd) -> set[str]:
    names = {"--help"}
    for p in cmd.params:
        if getattr(p, "param_type_name", "") == "option":
            names.update(p.opts)
            names.update(p.secondary_opts)
    return names


PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(\.\.\.)?$|\$|^~|\.\.\.|…")


def has_placeholders(words: list[str]) -> bool:
    return any(PLACEHOLDER.search(w) for w in words) or any(c in " ".join(words) for c in "[]|")


def check_command(root: _core.Command, doc: DocCommand) -> list[str]:
    """Problems of one documented command: unknown subcommands, unknown options, and (for a command written
    out in full) what click's own parser refuses — a missing argument, an extra one, a bad option use."""
    words = tokens(doc.text)[1:]
    cmd = root
    path = ["sigmascene"]
    i = 0
    while hasattr(cmd, "list_commands") and i < len(words) and not words[i].startswith("-"):
        choices = words[i].split("|")
        ctx = _core.Context(cmd)
        missing = [c for c in choices if cmd.get_command(ctx, c) is None]
        if missing:
            return [f"{' '.join(path)} has no command {missing[0]!r} (it has: {', '.join(cmd.list_commands(ctx))})"]
        if len(choices) > 1:
            return []  # `data synth|validate|...`: a list of commands, no options to check against one of them
        cmd = cmd.get_command(ctx, choices[0])
        path.append(choices[0])
        i += 1
    rest = words[i:]
    known = _option_names(cmd)
    problems = []
    for w in rest:
        for part in w.strip("[](){}").split("|"):
            m = re.match(r"^(--?[A-Za-z][\w-]*)", part)
            if m and m.group(1) not in known:
                problems.append(f"{' '.join(path)} has no option {m.group(1)}")
    if problems or not doc.block or has_placeholders(rest) or hasattr(cmd, "list_commands"):
        return problems
    try:
        cmd.make_context(" ".join(path), list(rest))
    except _exc.MissingParameter as err:
        problems.append(f"{' '.join(path)}: {err.format_message()}")
    except _exc.BadParameter:
        pass  # a value's type: the real run below, or the user's file, decides
    except _exc.UsageError as err:
        problems.append(f"{' '.join(path)}: {err.format_message()}")
    except (SystemExit, RuntimeError) as err:  # --help / --version end the parse early
        if type(err).__name__ not in ("Exit", "SystemExit"):
            raise
    return problems
