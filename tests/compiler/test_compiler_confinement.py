"""Confined mode (`--safe`, `--root DIR`, `root=`): every file a scene names — include, ref, mask, depth map,
mesh — must lie inside the root after resolving `..` and symlinks; the default reads anywhere, as before."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import sigmascene
from sigmascene.cli import app
from sigmascene.errors import AssetError
from sigmascene.grammar import parse_file

runner = CliRunner()


@pytest.fixture
def layout(tmp_path) -> Path:
    """project/ holds the scene; outside/ holds files the scene must not reach in confined mode."""
    project, outside = tmp_path / "project", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    for d in (project, outside):
        Image.new("RGB", (8, 8), (200, 10, 10)).save(d / "r.png")
        Image.new("L", (8, 8), 255).save(d / "m.png")
        np.save(d / "d.npy", np.ones((8, 8), np.float32))
        (d / "inc.sigma").write_text('subject inc { ref "r.png" box2d (0, 0, 1, 1) }\n')
    return tmp_path


def _write(layout: Path, body: str) -> Path:
    f = layout / "project" / "scene.sigma"
    f.write_text("sigma 1\ncanvas 64 x 64\n" + body)
    return f


REACHES = {
    "ref": 'subject a { ref "../outside/r.png" box2d (0, 0, 1, 1) }\n',
    "mask": 'subject a { ref "r.png" mask "../outside/m.png" }\n',
    "depth map": 'subject a { ref "r.png" box2d (0, 0, 1, 1) depth_map "../outside/d.npy" }\n',
    "mesh": 'subject a { ref "r.png" mesh "../outside/ball.obj" }\n',
    "include": 'include "../outside/inc.sigma"\nsubject a { ref "r.png" box2d (0, 0, 1, 1) }\n',
}


@pytest.mark.parametrize("what", sorted(REACHES))
def test_safe_mode_refuses_every_kind_of_path_outside_the_folder(layout, what):
    f = _write(layout, REACHES[what])
    with pytest.raises(AssetError) as exc:
        parse_file(f, root=True)
    d = exc.value.diagnostics[0]
    assert f"{what} ../outside/" in d.message and "outside the allowed folder" in d.message
    assert d.loc.line >= 3


def test_an_absolute_path_outside_is_refused(layout):
    f = _write(layout, f'subject a {{ ref "{layout / "outside" / "r.png"}" box2d (0, 0, 1, 1) }}\n')
    with pytest.raises(AssetError):
        sigmascene.load(f, root=True)


def test_a_symlink_out_of_the_folder_is_refused_after_resolving_it(layout):
    os.symlink(layout / "outside" / "r.png", layout / "project" / "link.png")
    f = _write(layout, 'subject a { ref "link.png" box2d (0, 0, 1, 1) }\n')
    with pytest.raises(AssetError) as exc:
        sigmascene.load(f, root=True)
    assert "really" in exc.value.diagnostics[0].message


def test_default_mode_still_reads_outside_the_folder(layout):
    f = _write(layout, REACHES["include"])
    assert [s.name for s in sigmascene.load(f).subjects] == ["inc", "a"]


def test_safe_mode_accepts_files_inside_the_folder_and_compiles(layout):
    (layout / "project" / "sub").mkdir()
    Image.new("RGB", (8, 8)).save(layout / "project" / "sub" / "r2.png")
    f = _write(layout, 'include "inc.sigma"\nsubject a { ref "sub/../sub/r2.png" mask "m.png" depth_map "d.npy" }\n')
    scene = sigmascene.load(f, root=True)
    assert scene.root == layout / "project"
    assert sigmascene.compile(scene).order


def test_root_dir_widens_the_allowed_folder(layout):
    f = _write(layout, REACHES["ref"])
    assert sigmascene.load(f, root=layout).subjects[0].ref == "../outside/r.png"


def test_a_python_built_scene_with_a_root_is_confined_at_compile(layout):
    scene = sigmascene.Scene(canvas=(64, 64))
    scene.base_dir = layout / "project"
    scene.root = layout / "project"
    scene.add_subject("a", "../outside/r.png", sigmascene.box2d(0, 0, 1, 1))
    with pytest.raises(AssetError):
        sigmascene.compile(scene)


def test_check_safe_names_the_path_and_stops(layout):
    f = _write(layout, REACHES["ref"])
    assert runner.invoke(app, ["check", str(f)]).exit_code == 0
    res = runner.invoke(app, ["check", "--safe", str(f)])
    assert res.exit_code == 1 and "../outside/r.png" in res.output and "outside the allowed folder" in res.output


@pytest.mark.parametrize("command", [["fmt", "--check"], ["compile", "-o", "OUT"], ["preview", "-o", "OUT.png"]])
def test_every_scene_command_takes_safe_and_root(layout, command):
    f = _write(layout, REACHES["ref"])
    args = [a.replace("OUT", str(layout / "out")) for a in command]
    res = runner.invoke(app, [args[0], "--safe", str(f), *args[1:]])
    assert res.exit_code == 1 and "outside the allowed folder" in res.output
    res = runner.invoke(app, [args[0], "--root", str(layout), str(f), *args[1:]])
    assert "outside the allowed folder" not in res.output


def test_render_takes_safe(layout):
    f = _write(layout, REACHES["ref"])
    res = runner.invoke(app, ["render", "--safe", str(f)])
    assert res.exit_code == 1 and "outside the allowed folder" in res.output
