"""`background "photo"` / `background_depth "depth"`: parsing, the canvas from the photo, printing, errors, --safe."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sigmascene.scene.builder import box2d
from sigmascene.compiler.filecheck import check_files
from sigmascene.errors import SigmaError
from sigmascene.grammar import dumps, format_file, load, loads
from sigmascene.scene import Scene, photo_canvas


@pytest.fixture
def room(tmp_path):
    Image.fromarray(np.full((96, 128, 3), 120, np.uint8)).save(tmp_path / "photo.png")
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(tmp_path / "ref.png")
    np.save(tmp_path / "depth.npy", np.full((96, 128), 2.0, np.float32))
    return tmp_path


SCENE = '''sigma 1
background "photo.png"  # my room
background_depth "depth.npy"

subject dog {
    ref "ref.png"
    box2d (16 px, 0.2, 0.5, 0.9)
}
'''


def test_background_statements_parse_and_size_the_canvas_from_the_photo(room):
    (room / "s.sigma").write_text(SCENE)
    scene = load(room / "s.sigma")
    assert (scene.canvas.width, scene.canvas.height) == (128, 96)
    assert scene.background.path == "photo.png" and scene.background.depth == "depth.npy"
    assert scene.subjects[0].placement.x0 == pytest.approx(16 / 128)  # px uses the photo's width
    assert scene.background.field_loc("depth").line == 3


def test_an_explicit_canvas_wins_over_the_photo_size(room):
    scene = loads('sigma 1\ncanvas 64 x 64\nbackground "photo.png"\nsubject a { ref "ref.png" box2d (0,0,1,1) }\n',
                  base_dir=room)
    assert (scene.canvas.width, scene.canvas.height) == (64, 64)


def test_photo_canvas_rounds_down_to_tokens_and_fits_the_size_limit():
    assert photo_canvas(128, 96) == (128, 96)
    assert photo_canvas(1000, 750) == (992, 736)
    assert photo_canvas(8000, 4000) == (4096, 2048)


def test_fmt_keeps_the_statements_and_comments_and_is_idempotent(room):
    (room / "s.sigma").write_text(SCENE)
    once = format_file(room / "s.sigma")
    assert 'background "photo.png"  # my room\nbackground_depth "depth.npy"' in once
    assert "canvas" not in once  # the canvas came from the photo; fmt does not freeze it
    (room / "t.sigma").write_text(once)
    assert format_file(room / "t.sigma") == once


def test_builder_sets_the_background_and_round_trips_through_text(room):
    scene = Scene(base_dir=room)
    scene.set_background("photo.png", depth="depth.npy")
    scene.add_subject("a", "ref.png", box2d(0, 0, 0.5, 0.5))
    assert (scene.canvas.width, scene.canvas.height) == (128, 96)
    again = loads(dumps(scene), base_dir=room)
    assert again == scene


def test_missing_photo_is_a_located_error(room):
    with pytest.raises(SigmaError) as err:
        loads('sigma 1\nbackground "nope.png"\nsubject a { ref "ref.png" box2d (0,0,1,1) }\n', base_dir=room)
    d = err.value.diagnostics[0]
    assert "background photo file not found" in d.message and (d.loc.line, d.loc.column) == (2, 12)


def test_depth_without_a_photo_and_twice_given_background_are_errors(room):
    with pytest.raises(SigmaError, match="needs a `background` photo"):
        loads('sigma 1\ncanvas 64 x 64\nbackground_depth "depth.npy"\nsubject a { ref "ref.png" box2d (0,0,1,1) }\n',
              base_dir=room)
    with pytest.raises(SigmaError, match="background is given twice"):
        loads('sigma 1\ncanvas 64 x 64\nbackground "a.png"\nbackground "b.png"\n'
              'subject a { ref "ref.png" box2d (0,0,1,1) }\n',
              base_dir=room)


def test_check_reports_a_bad_photo_and_a_bad_depth_at_their_statements(room):
    (room / "broken.png").write_bytes(b"not an image")
    np.save(room / "cube.npy", np.zeros((2, 2, 2)))
    scene = loads('sigma 1\ncanvas 64 x 64\nbackground "broken.png"\nbackground_depth "cube.npy"\n'
                  'subject a { ref "ref.png" box2d (0,0,1,1) }\n', base_dir=room)
    problems = check_files(scene)
    assert [p.loc.line for p in problems] == [3, 4]
    assert "background photo" in problems[0].message and "2-D" in problems[1].message


def test_safe_mode_refuses_a_photo_or_depth_outside_the_root(room):
    inner = room / "inner"
    inner.mkdir()
    for text in ('background "../photo.png"\n', 'background "../photo.png"\nbackground_depth "../depth.npy"\n'):
        with pytest.raises(SigmaError, match="outside the allowed folder"):
            loads('sigma 1\ncanvas 64 x 64\n' + text + 'subject a { ref "r.png" box2d (0,0,1,1) }\n',
                  base_dir=inner, root=True)


def test_the_bundled_toy_photo_is_what_its_script_draws(tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "toy" / "make_room_photo.py"
    spec = importlib.util.spec_from_file_location("make_room_photo", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "HERE", tmp_path)
    mod.main()
    for name in ("room_photo.png", "room_depth.png"):
        assert (tmp_path / name).read_bytes() == (script.parent / name).read_bytes()


def test_fmt_needs_no_photo_but_check_reports_it(room):
    (room / "s.sigma").write_text(SCENE.replace("photo.png", "elsewhere.png"))
    assert 'background "elsewhere.png"' in format_file(room / "s.sigma")
    with pytest.raises(SigmaError, match="background photo file not found"):
        load(room / "s.sigma")
