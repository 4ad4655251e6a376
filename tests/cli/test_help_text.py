"""Help that reads whole: every group lists all its commands, no description is cut with "...", one option name
means one kind of value everywhere, and README's documentation list names every page in docs/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from sigmascene.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
GROUP: Any = typer.main.get_command(app)  # typer's group (click-like; typer may carry its own click)


def _groups(group: Any = GROUP, path: tuple[str, ...] = ()):
    yield path, group
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _groups(cmd, path + (name,))


def _commands_section(output: str) -> list[str]:
    """The lines under the `Commands:` heading (a heading at the start of a line, not words in a description)."""
    parts = re.split(r"^Commands:\n", output, flags=re.M)
    return parts[1].split("\n\n", 1)[0].splitlines() if len(parts) > 1 else []


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
    """`--model` was a folder in `eval run` and the word `demo` in `eval toyworld`: the model folder is `--base`
    everywhere, and no visible option is called `--model`."""
    helps: dict[str, list[str]] = {}

    def walk(cmd: Any, path: str) -> None:
        for p in cmd.params:
            if type(p).__name__.endswith("Option") and not p.hidden:
                for name in p.opts:
                    helps.setdefault(name, []).append(f"{path}: {p.help}")
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(GROUP, "sigmascene")
    assert "--model" not in helps
    assert len(helps["--base"]) >= 3 and all("folder" in h for h in helps["--base"]), helps["--base"]
    assert all(".safetensors" in h or "LoRA" in h for h in helps["--lora"]), helps["--lora"]


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
