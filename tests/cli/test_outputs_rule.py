"""One rule for outputs, the same for every command: without -o, beside the scene file, named after it
(README, "Where outputs go"). And the first picture a newcomer gets is readable: `render` with the demo model
writes an asked-vs-got sheet beside the image, while the image keeps its true size."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.cli.outputs import BESIDE, beside
from sigmascene.core.files import has_png_mark
from sigmascene.demo import DEMO_CANVAS, demo_available

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
needs_demo = pytest.mark.skipif(not demo_available(), reason="demo weights not built")


@pytest.fixture
def scene(env, monkeypatch) -> Path:
    """examples/toy_room.sigma copied into a scratch folder that is NOT the working folder."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    shutil.copytree(ROOT / "examples", env / "ex")
    work = env / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return env / "ex" / "toy_room.sigma"


def test_compile_without_o_writes_beside_the_scene(scene):
    res = runner.invoke(app, ["compile", str(scene)])
    assert res.exit_code == 0, res.output
    out = scene.with_name("toy_room.maps")
    assert out == beside(scene, "compile")
    assert {p.name for p in out.iterdir()} >= {"control.png", "identity.png", "manifest.json"}
    assert str(out) in res.output
    assert list(Path.cwd().iterdir()) == []  # nothing in the working folder
    assert runner.invoke(app, ["compile", str(scene)]).exit_code == 0  # a re-run replaces its own output


def test_preview_without_o_writes_beside_the_scene(scene):
    assert runner.invoke(app, ["preview", str(scene)]).exit_code == 0
    assert runner.invoke(app, ["preview", str(scene), "--maps"]).exit_code == 0
    assert scene.with_name("toy_room.layout.png").is_file() and scene.with_name("toy_room.preview.png").is_file()
    assert list(Path.cwd().iterdir()) == []


@needs_demo
def test_render_without_o_writes_beside_the_scene_with_a_readable_sheet(scene):
    res = runner.invoke(app, ["render", str(scene), "--steps", "2"])
    assert res.exit_code == 0, res.output
    image, sheet = scene.with_name("toy_room.png"), scene.with_name("toy_room.sheet.png")
    assert image == beside(scene, "render") and sheet == beside(scene, "sheet")
    assert Image.open(image).size == DEMO_CANVAS  # the render keeps its true size
    assert json.loads(image.with_suffix(".json").read_text())["image"] == "toy_room.png"
    with Image.open(sheet) as im:  # three panels, each far larger than the 64 px render
        assert im.width >= 3 * 6 * DEMO_CANVAS[0] and im.height >= 6 * DEMO_CANVAS[1]
    assert has_png_mark(sheet) and str(sheet) in res.output
    assert list(Path.cwd().iterdir()) == []
    # --no-sheet: the image alone; a user's own PNG where the sheet would go is never replaced unasked
    res = runner.invoke(app, ["render", str(scene), "--steps", "1", "-o", "alone.png", "--no-sheet"])
    assert res.exit_code == 0 and Path("alone.png").is_file() and not Path("alone.sheet.png").exists()
    Image.new("RGB", (4, 4)).save("mine.sheet.png")
    res = runner.invoke(app, ["render", str(scene), "--steps", "1", "-o", "mine.png"])
    assert res.exit_code == 1 and "mine.sheet.png already exists" in res.output and not Path("mine.png").exists()


def test_make_set_without_o_writes_beside_the_dataset(env):
    from sigmascene.data.synth import SynthConfig, synthesize

    synthesize(env / "ds", 4, SynthConfig(size=64, max_subjects=3))
    res = runner.invoke(app, ["eval", "make-set", str(env / "ds"), "--single", "1", "--multi", "1"])
    assert res.exit_code == 0, res.output
    assert (env / "ds.evalset" / "evalset.json").is_file()


def test_readme_table_names_every_default_the_code_uses():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("### Where outputs go"):].split("\n\n")[2]
    for command in ("compile FILE", "preview FILE", "render FILE", "eval run SET", "eval score SET",
                    "eval make-set DATASET", "eval toyworld", "data show DATASET"):
        assert f"| `{command}" in table, command
    for what, suffix in BESIDE.items():
        assert f"living_room{suffix}" in table, what


@pytest.mark.parametrize("command,default", [(["compile"], ".maps"), (["preview"], ".layout.png"),
                                             (["render"], ".png"), (["eval", "make-set"], ".evalset")])
def test_help_says_where_the_output_goes_by_default(command, default):
    res = runner.invoke(app, [*command, "--help"], terminal_width=200)
    assert res.exit_code == 0
    assert re.search(r"default: beside (FILE|DATASET), as <name>" + re.escape(default), res.output), res.output
