"""Issue 30, item 30: Python API misuse is a SigmaError that says what to pass, never a bare Python error."""

from __future__ import annotations

from pathlib import Path

import pytest

import sigmascene
from sigmascene import Scene, SceneValidationError, SigmaError

TOY = Path(__file__).resolve().parents[2] / "examples" / "toy_room.sigma"


def test_item_30_a_non_subject_appended_to_subjects_is_named_at_compile():
    scene = sigmascene.load(TOY)
    scene.subjects.append("oops")
    with pytest.raises(SceneValidationError, match=r"subjects\[3\] is str 'oops', not a Subject") as err:
        sigmascene.compile(scene)
    assert "sigmascene.Subject(" in err.value.format()


def test_item_30_compile_accepts_a_path_and_refuses_text_or_other_values_with_a_hint():
    compiled = sigmascene.compile(str(TOY))
    assert compiled.order and sigmascene.compile(TOY).order == compiled.order
    with pytest.raises(SigmaError, match="this is scene text") as err:
        sigmascene.compile(TOY.read_text())
    assert "sigmascene.loads" in err.value.format()
    with pytest.raises(SceneValidationError, match="compile takes a Scene, got int"):
        sigmascene.compile(5)  # type: ignore[arg-type]  # the wrong type on purpose
    with pytest.raises(SigmaError, match="no such scene file"):
        sigmascene.compile("missing.sigma")


def test_item_30_loads_of_bytes_says_to_decode_and_load_of_a_number_says_path():
    with pytest.raises(SigmaError, match="takes the scene's text as a str, got bytes") as err:
        sigmascene.loads(TOY.read_bytes())  # type: ignore[arg-type]  # the wrong type on purpose
    assert "decode" in err.value.format()
    with pytest.raises(SigmaError, match="file path"):
        sigmascene.load(5)  # type: ignore[arg-type]  # the wrong type on purpose


def test_item_30_scene_base_dir_must_be_a_path():
    with pytest.raises(SceneValidationError, match="base_dir must be a folder path"):
        Scene(base_dir=5)  # type: ignore[arg-type]  # the wrong type on purpose
    s = Scene(base_dir=Path("examples"))
    with pytest.raises(SceneValidationError):
        s.base_dir = 3.5  # type: ignore[assignment]  # the wrong type on purpose
    assert s.base_dir == Path("examples")
