"""Every command the README and docs/*.md show works as written: its subcommands and options exist on the live
CLI, a command written out in full parses, the tools a shell block calls are installed, and the cheap commands
run for real, page by page, in a scratch copy of the repository's examples."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docs_commands import ROOT, DocCommand, check_command, doc_commands, has_placeholders, tokens
from typer.main import get_command

from sigmascene.cli import app

CLI = get_command(app)
COMMANDS = doc_commands()


def test_the_docs_show_commands_and_the_checker_catches_a_renamed_flag():
    assert len(COMMANDS) > 40
    bad = DocCommand(ROOT / "README.md", 1, "sigmascene check --jsn scene.sigma", True)
    assert check_command(CLI, bad) == ["sigmascene check has no option --jsn"]
    assert check_command(CLI, DocCommand(ROOT / "README.md", 1, "sigmascene chek x.sigma", True))
    compile_without_o = DocCommand(ROOT / "README.md", 1, "sigmascene compile x.sigma", True)
    assert not check_command(CLI, compile_without_o)  # -o has a default
    assert check_command(CLI, DocCommand(ROOT / "README.md", 1, "sigmascene data show ds", True))  # no --sample


@pytest.mark.parametrize("doc", COMMANDS, ids=str)
def test_every_documented_command_exists_with_every_option(doc):
    assert check_command(CLI, doc) == [], str(doc)


def _shell_lines():
    """First words of the commands in ```bash / ```sh blocks (continuations and comments left out)."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        in_block, cont = False, False
        for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if raw.startswith("```"):
                in_block = raw.strip() in ("```bash", "```sh")
                continue
            line = raw.strip()
            if in_block and line and not cont and not line.startswith("#"):
                yield f"{path.name}:{n}", line.split()[0]
            cont = in_block and line.endswith("\\")


def test_every_tool_a_shell_block_calls_is_installed():
    missing = [f"{where}: {word}" for where, word in _shell_lines()
               if "=" not in word and shutil.which(word) is None and word not in ("cd", "export")]
    assert missing == []


# -- running them -----------------------------------------------------------------------------------------

CHEAP = {("check",), ("fmt",), ("compile",), ("preview",), ("render",), ("data", "synth"), ("data", "validate"),
         ("data", "stats"), ("data", "show"), ("eval", "tiny-weights")}


def _runnable(doc: DocCommand) -> bool:
    """Written out in full and cheap on a CPU: no placeholders, a fast command, a small dataset, tiny models."""
    words = tokens(doc.text)[1:]
    if not doc.block or has_placeholders(words):
        return False
    path = tuple(w for w in words[:2] if not w.startswith("-"))
    if path[:1] == ("train",):
        return "--init" in words or "model.base=tiny" in words
    if path[:1] == ("render",):
        return "--base" not in words or "tiny-model" in words  # the embedded demo, or the tiny stack
    if path[:2] == ("data", "build"):  # only the tiny-model quick start: real stages need real model folders
        return "--tiny-models" in words or ("--count" in words and int(words[words.index("--count") + 1]) <= 6
                                            and "--ray" not in words and "--calibrate" not in words)
    if path[:2] == ("data", "synth"):
        return int(words[words.index("--count") + 1]) <= 200 and "512" not in words
    return path[:1] in CHEAP or path[:2] in CHEAP


def _python_lines(page: Path) -> dict[int, str]:
    """`python3 -c "..."` lines of a page's shell blocks: they make the inputs the next commands use."""
    out, in_block = {}, False
    for n, raw in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if raw.startswith("```"):
            in_block = raw.strip() in ("```bash", "```sh", "```")
            continue
        if in_block and raw.startswith(("python -c ", "python3 -c ")):
            out[n] = raw
    return out


PAGES = sorted({c.file for c in COMMANDS if _runnable(c)})


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_documented_commands_run_as_written(page, tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", PYOPENGL_PLATFORM="egl", HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    steps = [(c.line, c.text) for c in COMMANDS if c.file == page and _runnable(c)]
    steps += [(n, line) for n, line in _python_lines(page).items()]
    for line, text in sorted(steps):
        argv = tokens(text)
        argv = [sys.executable, "-m", "sigmascene.cli", *argv[1:]] if argv[0] == "sigmascene" else \
            [sys.executable, *argv[1:]]
        res = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
        assert res.returncode == 0, f"{page.name}:{line}: {text}\n{res.stdout[-1500:]}\n{res.stderr[-3000:]}"
