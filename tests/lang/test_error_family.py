"""One error family for values given from outside a file: `with_params` from Python and `--set` from the command
line both raise SceneValidationError, located where the value was given (the caller's line, or `--set NAME`),
never in a made-up file (`<--set>:1:1`) or in the printed text the value went through (`<python>:12:21`)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sigmascene
from sigmascene import Scene, SceneValidationError, SigmaError, box2d
from sigmascene.cli import app

TEXT = 'sigma 1\ncanvas 512 x 512\nparam rug_x = 0.3\nsubject a { ref "a.png" box2d ($rug_x, 0.1, 0.9, 0.9) }\n'


def _scene() -> Scene:
    s = Scene(canvas=(512, 512))
    x = s.add_param("rug_x", 0.3)
    assert isinstance(x, float)
    s.add_subject("a", "a.png", box2d(x, 0.1, 0.9, 0.9))
    return s


@pytest.mark.parametrize("values", [{"rug_x": "banana"}, {"rugx": 0.5}, {"rug_x": 5.0}, {"rug_x": '"text"'}])
def test_with_params_mistakes_are_scene_validation_errors_at_the_callers_line(values):
    scene = _scene()
    with pytest.raises(SceneValidationError) as err:
        line = inspect.currentframe().f_lineno + 1
        sigmascene.with_params(scene, **values)
    assert isinstance(err.value, SigmaError)
    for d in err.value.diagnostics:
        assert d.loc is not None and Path(d.loc.file).resolve() == Path(__file__).resolve()
        assert d.loc.line == line
    assert "<python>" not in err.value.format() and "<--set>" not in err.value.format()


def test_with_params_names_the_value_in_the_message():
    with pytest.raises(SceneValidationError, match=r"with_params\(rug_x=\.\.\.\): 'banana' is not a value"):
        sigmascene.with_params(_scene(), rug_x="banana")


def test_overrides_from_load_are_scene_validation_errors_named_after_set(tmp_path):
    f = tmp_path / "s.sigma"
    f.write_text(TEXT)
    with pytest.raises(SceneValidationError) as err:
        sigmascene.load(f, overrides={"rug_x": "banana"})
    text = err.value.format()
    assert text.startswith("error: --set rug_x: 'banana' is not a value") and "<--set>" not in text


def test_set_from_the_command_line_says_set_name_not_a_made_up_file(tmp_path):
    f = tmp_path / "s.sigma"
    f.write_text(TEXT)
    res = CliRunner().invoke(app, ["check", str(f), "--set", "rug_x=banana"])
    assert res.exit_code == 1
    assert "--set rug_x: 'banana' is not a value" in res.output
    assert "<--set>" not in res.output
    res = CliRunner().invoke(app, ["check", str(f), "--set", 'rug_x="wide"'])
    assert res.exit_code == 1 and "--set rug_x: expected a number" in res.output
