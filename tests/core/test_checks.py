"""The code checks of pyproject.toml ([tool.ruff], [tool.mypy]; docs/architecture.md, "Checks") pass, and every
suppression that is left says which check it silences and why, on its own line. .ci/run runs ruff and mypy
before the tests too; these keep README's test command honest about them."""

from __future__ import annotations

import importlib.util
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("sigmascene", "tests", "benchmarks", "scripts", "examples")

# a noqa comment: its codes (E501, F401), then words saying why
NOQA = re.compile(r"#\s*noqa\b(?P<codes>:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)?(?P<rest>.*)")
# a type-ignore comment: its codes in brackets, then a second comment saying why
IGNORE = re.compile(r"#\s*type:\s*ignore\b(?P<codes>\[[a-z0-9-]+(?:,\s*[a-z0-9-]+)*\])?(?P<rest>.*)")


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (the dev extra installs it)")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_ruff_finds_nothing_with_the_projects_rule_set():
    res = _run("ruff", "check", ".")
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_ruff_rule_set_is_live(tmp_path):
    """A loop closure (bugbear B023) and a reasonless bare noqa (PGH004) fail under the project's config."""
    bad = tmp_path / "bad.py"
    bad.write_text("fs = []\nfor i in range(3):\n    fs.append(lambda: i)\nimport os  # noqa\n")
    res = _run("ruff", "check", "--config", str(ROOT / "pyproject.toml"), "--no-cache", str(bad))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "B023" in res.stdout and "PGH004" in res.stdout


@pytest.mark.slow
def test_mypy_finds_nothing_in_the_library():
    res = _run("mypy")  # files, plugins and strictness from [tool.mypy]
    assert res.returncode == 0, res.stdout + res.stderr


def _comments(path: Path):
    """(line, comment text) of every real comment: a `# noqa` inside a string is not a suppression."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
            if tok.type == tokenize.COMMENT:
                yield tok.start[0], tok.string
    except (tokenize.TokenError, SyntaxError):  # not Python this tokenizer reads: ruff reports it
        return


def test_every_suppression_names_its_codes_and_its_reason():
    bad = []
    for top in CHECKED:
        for path in sorted((ROOT / top).rglob("*.py")):
            for line, text in _comments(path):
                for rx in (NOQA, IGNORE):
                    m = rx.search(text)
                    if m is None:
                        continue
                    reason = re.sub(r"^[\s\-#(:]+", "", m["rest"])
                    if not m["codes"] or len(re.findall(r"[A-Za-z]{2,}", reason)) < 2:
                        bad.append(f"{path.relative_to(ROOT)}:{line}: {text.strip()}")
    assert not bad, "suppressions need their codes and a reason on the same line:\n" + "\n".join(bad)
