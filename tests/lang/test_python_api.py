"""The Python API: Scene(base_dir=...), params usable from Python, one error family for value mistakes (with
pydantic's details kept), consistent `compiled` names, and the README's Python and headline scene as written."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import sigmascene
from sigmascene import Scene, SceneValidationError, SigmaError, box2d, box3d, camera, with_params

from repo_paths import EXAMPLES

README = Path(__file__).resolve().parents[2] / "README.md"


def test_scene_accepts_base_dir_in_the_constructor():
    s = Scene(canvas=(256, 256), base_dir=EXAMPLES)
    assert s.base_dir == EXAMPLES and s.resolve("refs/corgi.png") == EXAMPLES / "refs" / "corgi.png"


def test_a_param_built_in_python_prints_as_a_reference_and_moves_what_it_places():
    s = Scene(canvas=(256, 256), base_dir=EXAMPLES, camera=camera(position=(0, 1.6, 4), look_at=(0, 0.8, 0)))
    rug_x = s.add_param("rug_x", 0.3)
    s.add_subject("corgi", "refs/corgi.png", box3d(center=(rug_x, 0.25, 1.0), size=(0.8, 0.5, 0.5)), depth=None)
    s.add_subject("chair", "refs/armchair.png", box2d(0.05, 0.4, 0.45, 0.95), depth=3.6)
    text = sigmascene.dumps(s)
    assert "param rug_x = 0.3" in text and "center ($rug_x, 0.25, 1)" in text
    moved = with_params(s, rug_x=-0.2)
    assert moved.subject("corgi").placement.center == (-0.2, 0.25, 1.0)
    assert moved.param("rug_x").value == -0.2 and moved.base_dir == EXAMPLES
    a, b = sigmascene.compile(s), sigmascene.compile(moved)
    assert not np.array_equal(a.control, b.control)  # the corgi moved on the canvas
    with pytest.raises(SceneValidationError):
        s.add_param("rug_x", 1.0)  # declared twice


@pytest.mark.parametrize("make", [
    lambda: box2d(0.5, 0.4, 0.4, 0.9),
    lambda: box3d(center=(0, 0, 1), size=(-1, 1, 1)),
    lambda: Scene(canvas=(500, 512)),
    lambda: camera(fov=500),
])
def test_value_mistakes_raise_the_projects_error_with_pydantics_details(make):
    with pytest.raises(SceneValidationError) as err:
        make()
    assert isinstance(err.value, SigmaError) and err.value.details and "loc" in err.value.details[0]
    d = err.value.diagnostics[0]
    assert d.loc is not None and d.loc.file == __file__  # points at the user's line


def test_an_assignment_mistake_raises_the_projects_error_too():
    s = Scene()
    with pytest.raises(SceneValidationError, match="multiples of 16"):
        s.canvas = (500, 512)


def test_compiled_names_are_consistent_and_the_old_methods_still_work_with_a_warning():
    c = sigmascene.compile(sigmascene.load(EXAMPLES / "toy_room.sigma"))
    assert np.array_equal(np.asarray(c.control_pil), c.control)
    assert np.array_equal(np.asarray(c.identity_pil), c.identity)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert np.array_equal(np.asarray(c.control_image()), c.control)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def _readme_block(lang: str, contains: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return next(b for b in blocks if contains in b)


# README's Python example runs as a doctest: tests/lang/test_readme_python.py


def test_readme_headline_scene_puts_the_corgi_in_front_of_the_armchair_as_its_words_say():
    text = re.search(r"```\n(sigma 1\n.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    assert "@corgi naps on a rug in front of @armchair" in text
    for scene in (sigmascene.loads(text, base_dir=EXAMPLES), sigmascene.load(EXAMPLES / "living_room.sigma")):
        order = sigmascene.compile(scene).order  # far -> near
        assert order.index("corgi") > order.index("armchair"), order
