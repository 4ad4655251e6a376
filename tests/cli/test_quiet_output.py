"""Quiet, single-voiced output: the libraries' warnings about optional packages (transformers' "`X` requires
torchvision (not installed); falling back ...") are not shown unless `sigmascene -v`, and then once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from sigmascene.cli import app

ROOT = Path(__file__).resolve().parents[2]
# What `data build` did three times: look up image processors whose fast backend needs torchvision.
PROBE = """
import sys
from sigmascene.model.loading import quiet_libraries
quiet_libraries()
import transformers
for name in ("CLIPImageProcessor", "SiglipImageProcessor", "CLIPImageProcessor"):
    getattr(transformers, name)
print("done", file=sys.stderr)
"""


def _probe(verbose: str) -> str:
    env = dict(os.environ, SIGMASCENE_VERBOSE=verbose, PYTHONPATH=str(ROOT))
    env.pop("TRANSFORMERS_VERBOSITY", None)
    res = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "done" in res.stderr, res.stderr
    return res.stderr


def test_library_warnings_are_hidden_without_v_and_shown_once_with_it():
    import importlib.util

    quiet = _probe("0")
    assert "requires torchvision" not in quiet and "[transformers]" not in quiet
    loud = _probe("1")
    if importlib.util.find_spec("torchvision") is None:  # the warning exists only where torchvision is missing
        assert loud.count("`CLIPImageProcessor` requires torchvision") == 1


def test_v_is_a_global_option():
    res = CliRunner().invoke(app, ["-v", "check", str(ROOT / "examples" / "toy_room.sigma")])
    assert res.exit_code == 0 and os.environ.get("SIGMASCENE_VERBOSE") == "1"
    res = CliRunner().invoke(app, ["check", str(ROOT / "examples" / "toy_room.sigma")])
    assert res.exit_code == 0 and os.environ.get("SIGMASCENE_VERBOSE") == "0"


def test_a_long_run_says_its_estimate_before_it_starts_and_a_short_one_does_not(capsys):
    from sigmascene.cli.common import announce_estimate
    from sigmascene.eval.toyworld.session import ToyworldRequest, estimate_seconds

    default = estimate_seconds(ToyworldRequest(out=Path("x"), count=5))
    paper = estimate_seconds(ToyworldRequest(out=Path("x"), count=200))
    assert default is not None and default < 600  # the default finishes in minutes on a laptop CPU
    assert paper is not None and paper > 3600
    assert estimate_seconds(ToyworldRequest(out=Path("x"), count=200, base="some/folder")) is None  # unknown
    announce_estimate(default, "eval toyworld", "smaller")
    assert capsys.readouterr().err == ""
    announce_estimate(paper, "eval toyworld", "--count 5 finishes in minutes")
    err = capsys.readouterr().err
    assert "eval toyworld will take about" in err and " h " in err and "--count 5" in err


def test_eval_defaults_are_laptop_sized_and_name_the_papers_sizes():
    res = CliRunner().invoke(app, ["eval", "toyworld", "--help"], terminal_width=200)
    assert "default 5" in res.output and "--count 200" in res.output
    res = CliRunner().invoke(app, ["eval", "make-set", "--help"], terminal_width=200)
    assert "default 20" in res.output and "--single 200 --multi 510" in res.output


def test_a_demo_render_prints_no_library_warning(tmp_path):
    """`render` resolves its plan through the method table, whose modules import diffusers' pipelines (and with
    them transformers' image processors): the CLI quiets the libraries before that import, not after."""
    env = dict(os.environ, SIGMASCENE_VERBOSE="0", PYTHONPATH=str(ROOT))
    env.pop("TRANSFORMERS_VERBOSITY", None)
    res = subprocess.run([sys.executable, "-m", "sigmascene.cli", "render", str(ROOT / "examples" / "toy_room.sigma"),
                          "-o", str(tmp_path / "room.png"), "--no-sheet"], env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "[transformers]" not in res.stdout + res.stderr and "requires torchvision" not in res.stdout + res.stderr
    assert (tmp_path / "room.png").is_file()
