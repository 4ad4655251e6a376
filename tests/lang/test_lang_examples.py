"""Every bundled example parses, validates, and is already in canonical form."""

import filecmp

import pytest

import sigmascene
from sigmascene.grammar import format_file

from repo_paths import EXAMPLES

SCENES = sorted(EXAMPLES.glob("*.sigma"))


def test_there_are_examples_covering_every_placement_kind():
    kinds = {s.placement.kind for f in SCENES for s in sigmascene.load(f).subjects}
    assert kinds == {"box2d", "box3d", "mask", "polygon", "mesh"}
    living = sigmascene.load(EXAMPLES / "living_room.sigma")
    assert len(living.subjects) >= 5
    assert len({s.placement.kind for s in living.subjects}) == 5


@pytest.mark.parametrize("path", SCENES, ids=lambda p: p.name)
def test_example_parses_and_validates(path):
    scene = sigmascene.load(path)
    assert scene.subjects
    for s in scene.subjects:
        assert scene.resolve(s.ref).is_file(), s.ref


@pytest.mark.parametrize("path", SCENES, ids=lambda p: p.name)
def test_fmt_leaves_every_example_byte_identical(path):
    assert format_file(path) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", SCENES, ids=lambda p: p.name)
def test_dumps_round_trips_every_example(path):
    scene = sigmascene.load(path)
    again = sigmascene.loads(sigmascene.dumps(scene), base_dir=path.parent)
    assert again == scene


def test_include_brings_subjects_with_paths_relative_to_the_included_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "more.sigma").write_text('subject b { ref "b.png" box2d (0, 0, 1, 1) }\n')
    (tmp_path / "main.sigma").write_text('sigma 1\ninclude "sub/more.sigma"\n'
                                         'subject a { ref "a.png" box2d (0, 0, 1, 1) }\n')
    scene = sigmascene.load(tmp_path / "main.sigma")
    assert [s.name for s in scene.subjects] == ["b", "a"]
    assert scene.resolve(scene.subject("b").ref) == tmp_path / "sub" / "b.png"
    # fmt keeps the include statement instead of inlining the file
    assert 'include "sub/more.sigma"' in format_file(tmp_path / "main.sigma")


def test_make_assets_reproduces_the_shipped_files(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_assets", EXAMPLES / "make_assets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for written in mod.main(tmp_path):
        shipped = EXAMPLES / written.relative_to(tmp_path)
        assert filecmp.cmp(written, shipped, shallow=False), shipped
