"""The import contract in pyproject.toml ([tool.importlinter], drawn in docs/architecture.md): imports point down
the layers and no package's modules import each other in a circle. It runs here so CI keeps it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="the dev extra (import-linter) checks the import contract")

ROOT = Path(__file__).resolve().parents[2]
LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def _lint(project: Path) -> subprocess.CompletedProcess:
    """lint-imports on the `sigmascene` package found in `project`, with that folder's pyproject.toml."""
    env = dict(os.environ, PYTHONPATH=str(project))
    return subprocess.run([sys.executable, "-c", LINT, "--no-cache", str(project / "pyproject.toml")],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120)


def test_imports_point_down_the_layers_and_never_in_a_circle():
    res = _lint(ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 kept, 0 broken" in res.stdout


@pytest.fixture(scope="module")
def copy_of_the_package(tmp_path_factory) -> Path:
    """The package's Python files and the contract, without the shipped weights, to break on purpose."""
    root = tmp_path_factory.mktemp("house")
    shutil.copytree(ROOT / "sigmascene", root / "sigmascene",
                    ignore=lambda d, names: [n for n in names if not (n.endswith(".py") or (Path(d) / n).is_dir())
                                             or n == "__pycache__"])
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize("module, line, says", [
    ("sigmascene/scene/ir.py", "from ..compiler import compile_scene", "sigmascene.scene is not allowed to import"),
    ("sigmascene/renderers/raster.py", "from ..compiler.assets import load_mask",
     "sigmascene.renderers is not allowed to import sigmascene.compiler"),
    ("sigmascene/compiler/routing.py", "from . import compile", "No cycles are allowed in sigmascene.compiler"),
])
def test_the_contract_catches_an_upward_import_or_a_circle(copy_of_the_package, module, line, says):
    path = copy_of_the_package / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # noqa\n")
        res = _lint(copy_of_the_package)
    finally:
        path.write_text(original)
    assert res.returncode != 0 and says in res.stdout, res.stdout


def test_the_package_root_keeps_only_its_face():
    """The floors live in folders: the root holds the package face (`__init__`, version, errors) and little else."""
    loose = sorted(p.name for p in (ROOT / "sigmascene").glob("*.py"))
    assert len(loose) <= 8, loose


def test_no_library_module_imports_the_cli():
    """`cli/` is the top floor: nothing below it may import it, not even a `python -m` entry point."""
    offenders = []
    for path in (ROOT / "sigmascene").rglob("*.py"):
        rel = path.relative_to(ROOT / "sigmascene")
        if rel.parts[0] == "cli":
            continue
        text = path.read_text(encoding="utf-8")
        if "from ..cli" in text or "from .cli" in text or "from ...cli" in text or "sigmascene.cli import" in text:
            offenders.append(str(rel))
    assert offenders == []


def test_a_placement_kind_is_named_in_few_files():
    """Issue 27: a kind lives in its own module (scene/kinds/) and a registry the rest consults, so `polygon` —
    one kind, standing for any — is named by at most 7 of the package's Python files."""
    naming = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "sigmascene").rglob("*.py")
                    if "polygon" in p.read_text(encoding="utf-8").lower())
    assert len(naming) <= 7, naming
