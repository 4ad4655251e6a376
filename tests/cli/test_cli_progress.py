"""Long commands show progress in a log, not only on a terminal: plain lines every few seconds when the output is
not a terminal, drawn from library callbacks; the library itself never imports the command line."""

import ast
import os
import subprocess
import sys
from pathlib import Path

from sigmascene.cli.common import ProgressBars

ROOT = Path(__file__).resolve().parents[2]


def test_plain_lines_carry_count_percent_fields_and_rate(capsys):
    with ProgressBars(every=0, bars=False) as bars:
        task = bars.add("train", 4, unit="it")
        for k in range(1, 5):
            task.update(k, stage="1 (<=4 subjects)", loss=f"{0.5 / k:.4f}")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("train: 1/4 (25%) stage 1 (<=4 subjects) loss 0.5000")
    assert lines[-1].startswith("train: 4/4 (100%) stage 1 (<=4 subjects) loss 0.1250") and "elapsed" in lines[-1]
    assert len(lines) == 4


def test_plain_lines_are_rate_limited_but_the_last_one_always_shows(capsys):
    with ProgressBars(every=3600, bars=False) as bars:
        task = bars.add("synth", 10)
        for k in range(11):
            task.update(k)
        task.update(10)  # a repeated final update prints nothing more
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("synth: 10/10 (100%)")


def test_data_synth_writes_progress_lines_into_a_log(tmp_path):
    env = dict(os.environ, SIGMASCENE_PROGRESS_EVERY="0", PYOPENGL_PLATFORM="egl",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    res = subprocess.run([sys.executable, "-m", "sigmascene.cli", "data", "synth", str(tmp_path / "w"), "--count", "3",
                          "--size", "64", "--workers", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "synth: 3/3 (100%)" in res.stderr and "samples/s" in res.stderr
    assert "\x1b[" not in res.stderr  # no terminal escapes in a log


def test_the_library_never_imports_the_command_line():
    offenders = []
    for path in (ROOT / "sigmascene").rglob("*.py"):
        rel = path.relative_to(ROOT / "sigmascene")
        if rel.parts[0] == "cli" or path.name == "__main__.py":  # the CLI itself, and `python -m` entry points
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if (node.level and mod.split(".")[0] == "cli") or mod.startswith("sigmascene.cli"):
                    offenders.append(f"{rel}:{node.lineno}")
                if node.level and not mod and any(a.name == "cli" for a in node.names):
                    offenders.append(f"{rel}:{node.lineno}")
            elif isinstance(node, ast.Import) and any(a.name.startswith("sigmascene.cli") for a in node.names):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []
