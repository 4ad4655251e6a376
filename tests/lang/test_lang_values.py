"""Params, overrides, units, defaults and the Python builder all land on the same Scene."""

import math

import pytest

import sigmascene
from sigmascene import Scene, SigmaError, box2d, box3d, camera, mask, mesh, polygon

HEAD = "sigma 1\ncanvas 512 x 256\n"


def test_param_default_and_set_override():
    text = HEAD + 'param x = 0.3\nsubject a { ref "a.png" box3d { center ($x, 0, -2) size (1, 1, 1) } }\n'
    assert sigmascene.loads(text).subjects[0].placement.center[0] == 0.3
    scene = sigmascene.loads(text, overrides={"x": "0.4"})
    assert scene.subjects[0].placement.center[0] == 0.4
    # the printed scene keeps the $x reference and shows the overridden default
    out = sigmascene.dumps(scene)
    assert "param x = 0.4" in out and "center ($x, 0, -2)" in out


def test_set_of_an_unknown_param_suggests_the_close_one():
    text = HEAD + 'param rug_x = 0.3\nsubject a { ref "a.png" box2d (0, 0, $rug_x, 1) }\n'
    with pytest.raises(SigmaError) as err:
        sigmascene.loads(text, overrides={"rugx": "0.5"})
    assert "did you mean 'rug_x'" in err.value.format()


def test_units_convert_to_canonical_metres_degrees_and_fractions():
    text = HEAD + ('camera { position (0, 150 cm, 2) fov 1 rad }\n'
                   'subject a { ref "a.png" box2d (128 px, 0, 256 px, 128 px) depth 250 cm }\n'
                   'param turn = 0.5 rad\n'
                   'subject b { ref "b.png" box3d { center (0, 0, -1) size (1, 1, 1) yaw $turn } }\n')
    s = sigmascene.loads(text)
    assert s.camera.position == (0, 1.5, 2)
    assert s.camera.fov == pytest.approx(math.degrees(1))
    assert (s.subjects[0].placement.x0, s.subjects[0].placement.x1, s.subjects[0].placement.y1) == (0.25, 0.5, 0.5)
    assert s.subjects[0].depth == 2.5
    assert s.subjects[1].placement.yaw == pytest.approx(math.degrees(0.5))


def test_fmt_keeps_units_as_written():
    text = HEAD + 'subject a { ref "a.png" box2d (128 px, 0, 256 px, 128 px) depth 250 cm }\n'
    out = sigmascene.dumps(sigmascene.loads(text))
    assert "box2d (128 px, 0, 256 px, 128 px)" in out and "depth 250 cm" in out


def test_builder_makes_the_same_scene_as_the_text():
    text = ('sigma 1\ncanvas 512 x 512\nseed 3\nprompt "a room"\ncompose "@dog by @chair"\n'
            'camera { position (0, 1.6, 4) look_at (0, 0.8, 0) fov 50 deg }\n'
            'subject dog { ref "dog.png" box3d { center (0.3, 0.25, 1) size (0.5, 0.5, 0.8) yaw 30 deg } }\n'
            'subject chair { ref "chair.png" box2d (0.05, 0.3, 0.45, 0.95) depth 3.2 }\n'
            'subject lamp { ref "lamp.png" mask "lamp_mask.png" behind chair }\n'
            'subject plant { ref "plant.png" polygon (0.7, 0.5) (0.9, 0.5) (0.85, 0.95) depth 2 }\n'
            'subject vase { ref "vase.png" mesh "vase.obj" { position (-0.6, 0, 0.5) scale 0.3 } }\n')
    built = Scene(canvas=(512, 512), seed=3, prompt="a room", compose="@dog by @chair",
                  camera=camera((0, 1.6, 4), (0, 0.8, 0), fov=50))
    built.add_subject("dog", "dog.png", box3d((0.3, 0.25, 1), (0.5, 0.5, 0.8), yaw=30))
    built.add_subject("chair", "chair.png", box2d(0.05, 0.3, 0.45, 0.95), depth=3.2)
    built.add_subject("lamp", "lamp.png", mask("lamp_mask.png"), behind="chair")
    built.add_subject("plant", "plant.png", polygon((0.7, 0.5), (0.9, 0.5), (0.85, 0.95)), depth=2)
    built.add_subject("vase", "vase.png", mesh("vase.obj", position=(-0.6, 0, 0.5), scale=0.3))
    assert built.validate_scene() == sigmascene.loads(text)
    assert sigmascene.loads(sigmascene.dumps(built)) == built


def test_builder_rejects_a_duplicate_name_and_bad_boxes():
    s = Scene()
    s.add_subject("a", "a.png", box2d(0, 0, 1, 1))
    with pytest.raises(SigmaError):
        s.add_subject("a", "b.png", box2d(0, 0, 1, 1))
    with pytest.raises(sigmascene.SceneValidationError):
        box2d(0.5, 0, 0.4, 1)


def test_defaults_when_statements_are_left_out():
    s = sigmascene.loads('sigma 1\nsubject a { ref "a.png" box2d (0, 0, 1, 1) }\n')
    assert (s.canvas.width, s.canvas.height, s.seed, s.prompt, s.compose) == (1024, 1024, 0, "", None)
    assert s.camera.position == (0, 0, 0) and s.camera.look_at is None and s.camera.fov == 55


def test_keywords_can_still_name_subjects():
    s = sigmascene.loads('sigma 1\nsubject m { ref "a.png" box2d (0, 0, 1, 1) }\n'
                         'subject x { ref "b.png" box2d (0, 0, 1, 1) behind m }\n')
    assert [x.name for x in s.subjects] == ["m", "x"]


def test_canvas_accepts_compact_form():
    assert sigmascene.loads('sigma 1 canvas 256x128 subject a { ref "a" box2d (0,0,1,1) }').canvas.height == 128
