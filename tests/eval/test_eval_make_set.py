"""`eval make-set`: a self-contained eval set from a dataset folder, split single vs multi-subject."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.errors import SigmaError
from sigmascene.eval.evalset import Case, EvalSet, SampleRef
from sigmascene.eval.make_set import GROUND_TRUTH, make_set

W, H = 64, 48


def _subject(root, sid, name, rng, x0, with_3d=True, with_mask=True):
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / f"{sid}_{name}_id.png")
    rec = {"name": name, "identity": f"{sid}_{name}_id.png", "caption": f"a {name}",
           "box2d": [x0, 8, x0 + 20, 40]}
    if with_mask:
        m = np.zeros((H, W), np.uint8)
        m[8:40, x0:x0 + 20] = 255
        Image.fromarray(m).save(root / f"{sid}_{name}_mask.png")
        rec["mask"] = f"{sid}_{name}_mask.png"
    if with_3d:
        rec["box3d"] = {"center": [(x0 + 10 - W / 2) / 20, 0.0, -3.0 - x0 / 40], "size": [0.5, 0.8, 0.5], "yaw": 15}
    return rec


@pytest.fixture()
def dataset(tmp_path):
    """Five samples: three multi-subject, two single (one of them with a 2D box only)."""
    root = tmp_path / "data"
    root.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i, n in enumerate([2, 1, 3, 1, 2]):
        sid = f"s{i:03d}"
        Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(root / f"{sid}.png")
        np.save(root / f"{sid}_depth.npy", np.linspace(2.0, 4.0, W * H, dtype=np.float32).reshape(H, W))
        full = i != 3  # sample 3 has only 2D boxes: no mask_depth / box3d_depth case for it
        subjects = [_subject(root, sid, f"obj{k}", rng, 2 + 20 * k, with_3d=full, with_mask=full) for k in range(n)]
        lines.append(json.dumps({
            "id": sid, "image": f"{sid}.png", "depth": f"{sid}_depth.npy", "subjects": subjects,
            "camera": {"fx": 50.0, "fy": 50.0, "cx": W / 2, "cy": H / 2, "width": W, "height": H},
            "prompts": {"background": "a plain room", "full": " and ".join(f"@obj{k}" for k in range(n))}}))
    (root / "index.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_cases_are_split_by_subject_count_and_self_contained(dataset, tmp_path):
    out = tmp_path / "set"
    summary = make_set(dataset, out, single=1, multi=2, seed=0)
    es = EvalSet.load(out)
    assert (summary.single, summary.multi, summary.cases) == (1, 2, len(es.cases))
    groups = sorted(len(es.load_scene(c).subjects) > 1 for c in es.cases)
    assert groups.count(True) == 2 and summary.short == []
    shutil.rmtree(dataset)  # the set no longer needs the dataset
    for case in es.cases:
        scene = es.load_scene(case)
        folder = out / "cases" / case.id
        assert (folder / "target.png").is_file()
        for s in scene.subjects:
            assert scene.resolve(s.ref).is_file() and scene.resolve(s.ref).parent == folder / "refs"
            assert s.placement.kind == "mask" and scene.resolve(s.depth_map).parent == folder / "depth"


def test_the_choice_is_seeded(dataset, tmp_path):
    def ids(k: int, seed: int) -> list[str]:
        make_set(dataset, tmp_path / f"set{k}", single=1, multi=1, seed=seed, structures=["box2d"])
        return [c.id for c in EvalSet.load(tmp_path / f"set{k}").cases]

    runs = [ids(k, seed) for k, seed in enumerate((5, 5, 6, 7, 8))]
    assert runs[0] == runs[1]
    assert len({tuple(r) for r in runs}) > 1  # other seeds pick other samples


def test_one_case_per_structure_and_samples_without_annotations_are_counted(dataset, tmp_path):
    summary = make_set(dataset, tmp_path / "set", single=5, multi=5, structures=["mask_depth", "box2d", "box3d_depth"])
    es = EvalSet.load(tmp_path / "set")
    ids = {c.id for c in es.cases}
    assert not any(i.startswith("s003.") for i in ids)  # every mode's rows cover the same samples
    assert summary.unusable == {"mask_depth": 1, "box3d_depth": 1}
    assert len(ids) == 4 * 3
    assert "wanted 5 single-subject samples, the dataset has 1 usable" in summary.short
    kinds = {s.placement.kind for s in es.load_scene(es.case("s002.box3d_depth")).subjects}
    assert kinds == {"box3d"}


def test_ground_truth_targets_become_a_method(dataset, tmp_path):
    make_set(dataset, tmp_path / "set", single=2, multi=3, structures=["box2d"], ground_truth=True)
    es = EvalSet.load(tmp_path / "set")
    assert es.methods() == [GROUND_TRUTH]
    assert sorted(p.stem for p in es.render_dir(GROUND_TRUTH).glob("*.png")) == sorted(c.id for c in es.cases)


def test_an_existing_set_is_kept_unless_forced(dataset, tmp_path):
    make_set(dataset, tmp_path / "set", single=1, multi=1)
    with pytest.raises(SigmaError, match="already holds an eval set"):
        make_set(dataset, tmp_path / "set", single=1, multi=1)
    make_set(dataset, tmp_path / "set", single=0, multi=3, force=True)
    assert len(EvalSet.load(tmp_path / "set").cases) == 3


def test_unknown_structure_gets_a_hint(dataset, tmp_path):
    with pytest.raises(SigmaError) as err:
        make_set(dataset, tmp_path / "set", structures=["mask-depth"])
    assert "did you mean 'mask_depth'" in err.value.format()


def test_a_case_can_name_a_dataset_sample_directly(dataset, tmp_path):
    root = tmp_path / "set"
    EvalSet(cases=[Case(id="direct", sample=SampleRef(dataset="../data", id="s002", structure="box2d"))]).save(root)
    es = EvalSet.load(root)
    scene = es.load_scene(es.cases[0])
    assert [s.name for s in scene.subjects] == ["obj0", "obj1", "obj2"]
    assert {s.placement.kind for s in scene.subjects} == {"box2d"}
    with pytest.raises(SigmaError, match="no sample 'nope'"):
        es.load_scene(Case(id="x", sample=SampleRef(dataset="../data", id="nope")))


def test_cli_make_set_then_score_the_ground_truth(dataset, tmp_path):
    from sigmascene.testing.tiny_eval import save_tiny_dino

    runner = CliRunner()
    out = tmp_path / "set"
    res = runner.invoke(app, ["eval", "make-set", str(dataset), "-o", str(out), "--single", "9", "--multi", "1",
                              "--ground-truth", "--structure", "mask_depth"])
    assert res.exit_code == 0, res.output
    assert "wrote 2 cases" in res.output and "wanted 9 single-subject samples" in res.output
    dino = save_tiny_dino(tmp_path / "dino")
    res = runner.invoke(app, ["eval", "score", str(out), "--dino", str(dino), "--metric", "dino_i", "--no-paper"])
    assert res.exit_code == 0, res.output
    assert "| Multi-subject | ground-truth | Mask,Depth | 1 |" in res.output
    assert "| Single-subject | ground-truth | Mask,Depth | 1 |" in res.output
