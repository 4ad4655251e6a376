"""The eval set format: loading, validation errors, what a case means (references, text, control label)."""

from __future__ import annotations

import json

import pytest

import sigmascene
from sigmascene import Scene, box2d, box3d, mask, polygon
from sigmascene.errors import SigmaError
from sigmascene.eval.evalset import Case, EvalSet, case_text, control_label, subject_group


def _write(root, data):
    root.mkdir(parents=True, exist_ok=True)
    (root / "evalset.json").write_text(data if isinstance(data, str) else json.dumps(data))


def _scene_file(root, cid="c1"):
    scene = Scene(canvas=(32, 32), prompt="a shelf", compose="@mug beside @red_box")
    scene.add_subject("mug", "mug.png", box2d(0.1, 0.1, 0.5, 0.5), caption="a blue mug")
    scene.add_subject("red_box", "box.png", box2d(0.5, 0.5, 0.9, 0.9))
    folder = root / "cases" / cid
    folder.mkdir(parents=True)
    (folder / "scene.sigma").write_text(sigmascene.dumps(scene))
    return f"cases/{cid}/scene.sigma"


def test_a_saved_set_loads_back_equal(tmp_path):
    es = EvalSet(name="x", cases=[Case(id="a.1", scene="cases/a/scene.sigma", seed=4,
                                       references={"mug": "gt/mug.png"})])
    es.save(tmp_path)
    back = EvalSet.load(tmp_path)
    assert back == es and back.root == tmp_path


@pytest.mark.parametrize("data, message", [
    ('{"format": "sigmascene-evalset", "cases": [', "not valid JSON"),
    ({"format": "other"}, "format"),
    ({"cases": [{"id": "a"}]}, "exactly one of `scene` or `sample`"),
    ({"cases": [{"id": "a", "scene": "s", "sample": {"dataset": "d", "id": "1"}}]}, "exactly one"),
    ({"cases": [{"id": "../evil", "scene": "s"}]}, "names files"),
    ({"cases": [{"id": "a", "scene": "s"}, {"id": "a", "scene": "t"}]}, "appears twice"),
    ({"cases": [{"id": "a", "scene": "s", "colour": 1}]}, "colour"),
])
def test_malformed_sets_are_one_clear_error(tmp_path, data, message):
    _write(tmp_path, data)
    with pytest.raises(SigmaError, match=message):
        EvalSet.load(tmp_path)


def test_a_json_error_points_at_its_line(tmp_path):
    _write(tmp_path, '{\n  "cases": [\n    {"id": "a",, "scene": "s"}\n  ]\n}')
    with pytest.raises(SigmaError) as err:
        EvalSet.load(tmp_path)
    assert err.value.diagnostics[0].loc.line == 3


def test_a_folder_without_an_index_says_how_to_make_one(tmp_path):
    with pytest.raises(SigmaError, match="is not an eval set") as err:
        EvalSet.load(tmp_path)
    assert "make-set" in err.value.format()


def test_references_default_to_the_scene_refs_and_can_be_overridden(tmp_path):
    rel = _scene_file(tmp_path)
    es = EvalSet(cases=[Case(id="c1", scene=rel, references={"mug": "gt/mug.png"})])
    es.save(tmp_path)
    es = EvalSet.load(tmp_path)
    case = es.cases[0]
    scene = es.load_scene(case)
    refs = es.references(case, scene)
    assert refs["mug"] == tmp_path / "gt" / "mug.png"
    assert refs["red_box"] == tmp_path / "cases" / "c1" / "box.png"
    bad = Case(id="c1", scene=rel, references={"mugg": "x.png"})
    with pytest.raises(SigmaError, match="unknown subject 'mugg'") as err:
        es.references(bad, scene)
    assert "did you mean 'mug'" in err.value.format()


def test_a_missing_scene_file_names_the_case(tmp_path):
    es = EvalSet(cases=[Case(id="gone", scene="cases/gone/scene.sigma")])
    es.save(tmp_path)
    with pytest.raises(SigmaError, match="case 'gone'"):
        es.load_scene(es.cases[0])


def test_scene_errors_point_into_the_scene_file(tmp_path):
    folder = tmp_path / "cases" / "bad"
    folder.mkdir(parents=True)
    (folder / "scene.sigma").write_text("sigma 1\ncanvas 32 x 32\n"
                                        "subject a {\n  ref \"a.png\"\n  boxx2d (0,0,1,1)\n}\n")
    es = EvalSet(cases=[Case(id="bad", scene="cases/bad/scene.sigma")])
    es.save(tmp_path)
    with pytest.raises(SigmaError) as err:
        es.load_scene(es.cases[0])
    assert "scene.sigma:5" in err.value.format()


def test_case_text_spells_out_mentions_and_honours_an_explicit_prompt(tmp_path):
    rel = _scene_file(tmp_path)
    es = EvalSet(cases=[Case(id="c1", scene=rel)])
    es.save(tmp_path)
    scene = es.load_scene(es.cases[0])
    assert case_text(es.cases[0], scene) == "a blue mug beside red box"
    assert case_text(Case(id="c1", scene=rel, prompt="two things"), scene) == "two things"
    scene.compose = None
    assert case_text(es.cases[0], scene) == "a shelf"


def test_control_labels_follow_the_papers_columns(tmp_path):
    def label(*subjects, **case):
        s = Scene(canvas=(32, 32))
        for i, (placement, kw) in enumerate(subjects):
            s.add_subject(f"s{i}", "r.png", placement, **kw)
        return control_label(Case(id="x", scene="s", **case), s)

    assert label((mask("m.png"), {"depth_map": "d.npy"})) == "Mask,Depth"
    assert label((polygon((0, 0), (1, 0), (1, 1)), {})) == "Mask"
    assert label((box2d(0, 0, 1, 1), {}), (box2d(0, 0, .5, .5), {})) == "Bbox"
    assert label((box3d((0, 0, -3), (1, 1, 1)), {}), (mask("m.png"), {})) == "Mask+3D box,Depth"
    assert label((box2d(0, 0, 1, 1), {}), control="Bbox (ours)") == "Bbox (ours)"
    assert subject_group(1) == "single" and subject_group(4) == "multi"
