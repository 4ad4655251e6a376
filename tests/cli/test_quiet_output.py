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
