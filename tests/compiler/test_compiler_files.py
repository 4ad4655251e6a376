"""Files in and out: bad references give located errors, outputs are deterministic and never half-written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image
from typer.testing import CliRunner

import sigmascene
from sigmascene.cli import app
from sigmascene.compiler.compiled import CompiledScene
from sigmascene.testing.files import png_claiming_size

SCENE = """sigma 1
canvas 128 x 96
prompt "a test room"
camera {
    position (0, 1.2, 4)
    look_at (0, 0.5, 0)
    fov 50 deg
}
param x = 0.2
subject crate {
    ref "refs/crate.png"
    box3d { center ($x, 0.3, 0.5) size (0.6, 0.6, 0.6) yaw 20 deg }
}
subject board {
    ref "refs/board.png"
    box2d (0.05, 0.10, 0.60, 0.80)
    depth 5
}
subject ball {
    ref "refs/ball.png"
    mesh "ball.obj" { position (-0.8, 0.4, 0) scale 0.5 }
}
"""
REF_LINE = {"crate": 11, "board": 15, "ball": 20}


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "refs").mkdir()
    for name, colour in [("crate", (180, 120, 40)), ("board", (40, 90, 200)), ("ball", (30, 170, 60))]:
        Image.new("RGB", (96, 80), colour).save(tmp_path / "refs" / f"{name}.png")
    trimesh.creation.icosphere(subdivisions=2).export(tmp_path / "ball.obj")
    (tmp_path / "scene.sigma").write_text(SCENE)
    return tmp_path


def _corrupt_png(path: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])


BAD_REFS = {
    "missing": (lambda p: p.unlink(), "not found"),
    "corrupt": (_corrupt_png, "corrupt"),
    "not_an_image": (lambda p: p.write_text("this is a text file"), "not an image"),
    "zero_by_zero": (lambda p: png_claiming_size(p, 0, 0), "empty"),
    "empty_file": (lambda p: p.write_bytes(b""), "empty"),
    "too_big": (lambda p: png_claiming_size(p, 8000, 7000), "megapixel"),
    "directory": (lambda p: (p.unlink(), p.mkdir()), "not a file"),
}


@pytest.mark.parametrize("kind", sorted(BAD_REFS))
def test_bad_reference_is_a_located_error_and_writes_nothing(project, kind):
    break_it, message = BAD_REFS[kind]
    break_it(project / "refs" / "board.png")
    scene = sigmascene.load(project / "scene.sigma")
    with pytest.raises(sigmascene.SigmaError, match=message) as err:
        sigmascene.compile(scene)
    loc = err.value.diagnostics[0].loc
    assert loc is not None and Path(loc.file).name == "scene.sigma" and loc.line == REF_LINE["board"]
    result = CliRunner().invoke(app, ["compile", str(project / "scene.sigma"), "-o", str(project / "out")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"scene.sigma:{REF_LINE['board']}:" in result.output
    assert not (project / "out").exists()
    assert [p.name for p in project.iterdir() if p.name.startswith(".out")] == []


def test_bad_mesh_is_located_at_its_path(project):
    (project / "ball.obj").write_text("v 0 0 0\nv nonsense\n")
    with pytest.raises(sigmascene.SigmaError) as err:
        sigmascene.compile(sigmascene.load(project / "scene.sigma"))
    assert err.value.diagnostics[0].loc.line == 21


def test_compiling_twice_gives_byte_identical_files(project):
    runner = CliRunner()
    for out in ("a", "b"):
        r = runner.invoke(app, ["compile", str(project / "scene.sigma"), "-o", str(project / out)])
        assert r.exit_code == 0, r.output
    for name in ("control.png", "identity.png", "manifest.json"):
        assert (project / "a" / name).read_bytes() == (project / "b" / name).read_bytes(), name
    manifest = json.loads((project / "a" / "manifest.json").read_text())
    assert manifest["order"] == ["board", "ball", "crate"]
    assert [s["intensity"] for s in manifest["subjects"]] == [10, 20, 30]
    for entry in manifest["subjects"]:
        assert set(entry) >= {"name", "index", "intensity", "placement", "ref", "depth", "bbox_px",
                              "visible_fraction"}
    control = np.asarray(Image.open(project / "a" / "control.png"))
    identity = np.asarray(Image.open(project / "a" / "identity.png"))
    assert control.shape == (96, 128, 3) and identity.shape == (3 * 48, 64, 3)
    assert set(np.unique(control[..., 0])) <= {0, 10, 20, 30}


def test_set_overrides_a_param(project):
    a = sigmascene.compile(sigmascene.load(project / "scene.sigma"))
    b = sigmascene.compile(sigmascene.load(project / "scene.sigma", overrides={"x": "0.6"}))
    xa = np.nonzero(a.coverage["crate"])[1].mean()
    xb = np.nonzero(b.coverage["crate"])[1].mean()
    assert xb > xa + 5
    r = CliRunner().invoke(app, ["compile", str(project / "scene.sigma"), "-o", str(project / "o"),
                                 "--set", "x=0.6"])
    assert r.exit_code == 0, r.output
    m = json.loads((project / "o" / "manifest.json").read_text())
    assert m["subjects"][2]["placement"]["center"][0] == pytest.approx(0.6)


def test_recompiling_replaces_our_files_but_refuses_foreign_ones(project):
    runner = CliRunner()
    out = project / "out"
    assert runner.invoke(app, ["compile", str(project / "scene.sigma"), "-o", str(out)]).exit_code == 0
    (out / "notes.txt").write_text("mine")
    r = runner.invoke(app, ["compile", str(project / "scene.sigma"), "-o", str(out), "--set", "x=0.5"])
    assert r.exit_code == 0, r.output
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "manifest.json").read_text())["subjects"][2]["placement"]["center"][0] == 0.5
    foreign = project / "foreign"
    foreign.mkdir()
    (foreign / "control.png").write_bytes(b"someone else's picture")
    r = runner.invoke(app, ["compile", str(project / "scene.sigma"), "-o", str(foreign)])
    assert r.exit_code == 1 and "not written by sigmascene" in r.output
    assert (foreign / "control.png").read_bytes() == b"someone else's picture"
    assert runner.invoke(app, ["compile", str(project / "scene.sigma"), "-o", str(foreign), "--force"]).exit_code == 0
    assert Image.open(foreign / "control.png").size == (128, 96)


def test_a_failure_while_saving_leaves_the_previous_output_intact(project, monkeypatch):
    compiled = sigmascene.compile(sigmascene.load(project / "scene.sigma"))
    out = compiled.save(project / "out")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(self):
        raise OSError("disk full")

    monkeypatch.setattr(CompiledScene, "identity_pil", property(boom))
    with pytest.raises(OSError):
        compiled.save(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in project.iterdir() if p.name.startswith(".")) == []


def test_preview_writes_a_layout_and_a_maps_sheet(project):
    runner = CliRunner()
    r = runner.invoke(app, ["preview", str(project / "scene.sigma"), "-o", str(project / "layout.png")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["preview", str(project / "scene.sigma"), "--maps", "-o", str(project / "maps.png"),
                            "--set", "x=0.4"])
    assert r.exit_code == 0, r.output
    layout, sheet = Image.open(project / "layout.png"), Image.open(project / "maps.png")
    assert sheet.width > layout.width // 2 and sheet.height > 400
    arr = np.asarray(sheet.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(arr, axis=0)) > 50  # panels, palettes, colour map and thumbnails, not a blank page
    r = runner.invoke(app, ["preview", str(project / "scene.sigma"), "-o", str(project / "x.jpg")])
    assert r.exit_code == 1 and ".png" in r.output


def test_preview_open_without_a_viewer_says_so(project, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    r = CliRunner().invoke(app, ["preview", str(project / "scene.sigma"), "-o", str(project / "p.png"), "--open"])
    assert r.exit_code == 0 and "no image viewer" in r.output


def test_living_room_example_compiles_with_every_subject_routed(examples_dir):
    c = sigmascene.compile(sigmascene.load(examples_dir / "living_room.sigma"))
    assert len(c.order) == len(c.scene.subjects) >= 5
    for name in c.order:
        assert (c.ir_asc == c.intensity(name)).any() or (c.ir_desc == c.intensity(name)).any(), name
    assert c.structure.max() == 255
    from sigmascene.compiler.preview import contact_sheet, layout_preview

    assert contact_sheet(c).size[0] > 1000 and layout_preview(c).size[0] > 800


def test_preview_defaults_to_a_png_beside_the_scene(project):
    r = CliRunner().invoke(app, ["preview", str(project / "scene.sigma"), "--maps"])
    assert r.exit_code == 0, r.output
    assert (project / "scene.preview.png").exists()
    r = CliRunner().invoke(app, ["preview", str(project / "scene.sigma")])
    assert r.exit_code == 0 and (project / "scene.layout.png").exists()
    r = CliRunner().invoke(app, ["preview", str(project / "scene.sigma"), "-o", str(project / "no" / "such" / "x.png")])
    assert r.exit_code == 0  # parent folders are created
