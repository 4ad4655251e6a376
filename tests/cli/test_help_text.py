"""Help that reads whole: every group lists all its commands, no description is cut with "...", one option name
means one kind of value everywhere, and README's documentation list names every page in docs/."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer.main
from typer.testing import CliRunner

from sigmascene.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
GROUP = typer.main.get_command(app)
assert isinstance(GROUP, click.Group)


def _groups(group: click.Group = GROUP, path: tuple[str, ...] = ()):
    yield path, group
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _groups(cmd, path + (name,))


def _commands_section(output: str) -> list[str]:
    return output.split("Commands:", 1)[1].strip("\n").splitlines() if "Commands:" in output else []


@pytest.mark.parametrize("path,group", list(_groups()), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
@pytest.mark.parametrize("width", [80, 120])
def test_every_group_lists_all_its_commands_uncut(path, group, width):
    res = runner.invoke(app, [*path, "--help"], terminal_width=width)
    assert res.exit_code == 0
    lines = _commands_section(res.output)
    listed = {line.split()[0] for line in lines if line.startswith("  ") and not line.startswith("   ")}
    assert listed == {n for n, c in group.commands.items() if not c.hidden}
    for line in lines:
        assert not line.rstrip().endswith(("...", "…")), f"cut at {width} columns: {line!r}"


def test_data_help_lists_build():
    res = runner.invoke(app, ["data", "--help"])
    assert re.search(r"^\s+build\s", res.output, re.M), res.output
    assert "build" in GROUP.commands["data"].help  # the group's own description names it too


def test_top_level_descriptions_are_whole_sentences():
    res = runner.invoke(app, ["--help"])
    for line in _commands_section(res.output):
        assert line.rstrip().endswith("."), line


def test_one_option_name_means_one_kind_of_value():
    """`--model` was a folder in `eval run` and the word `demo` in `eval toyworld`: the model folder is `--base`."""
    seen: dict[str, set[str]] = {}

    def walk(cmd: click.Command, path: str) -> None:
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden:
                for name in p.opts:
                    kind = "flag" if p.is_flag else type(p.type).__name__
                    seen.setdefault(name, set()).add(kind)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(GROUP, "sigmascene")
    assert "--model" not in seen
    for name in ("--base", "--lora", "--out", "--seed", "--steps", "--device"):
        assert len(seen.get(name, {"x"})) == 1, (name, seen.get(name))


def test_readme_documentation_list_names_every_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Documentation", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"\[docs/([\w.-]+\.md)\]\(docs/\1\)", section))
    # a page starts with its title; a generated fragment (toyworld-table.md, a table README embeds) does not
    pages = {p.name for p in (ROOT / "docs").glob("*.md") if p.read_text(encoding="utf-8").startswith("# ")}
    assert listed == pages, f"missing from README: {sorted(pages - listed)}; no such page: {sorted(listed - pages)}"


def test_training_quick_start_uses_the_data_synth_command():
    text = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    assert "synthesize(" not in text and "sigmascene data synth" in text
