"""README's Python example is a doctest: what a newcomer copies runs, and prints what README says it prints."""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_readme_python_example_runs_as_a_doctest(monkeypatch):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```pycon\n(.*?)```", text, re.S)
    assert blocks, "README has no ```pycon example"
    monkeypatch.chdir(REPO)  # the example names examples/ relative to the repository root
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for i, block in enumerate(blocks):
        test = parser.get_doctest(block, {}, f"README.md pycon block {i}", str(REPO / "README.md"), 0)
        assert test.examples
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} README doctest examples failed (see output above)"
    assert os.getcwd() == str(REPO)
