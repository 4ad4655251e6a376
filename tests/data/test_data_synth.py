"""The synthetic world: valid, exact, deterministic, resumable, and identities that are not copies."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from sigmascene.data import load_dataset
from sigmascene.data.geometry import backproject, box_corners, box_rotation, mask_box, project
from sigmascene.data.io import INDEX, load_depth, load_mask, load_rgb, resolve
from sigmascene.data.synth import SynthConfig, synthesize
from sigmascene.data.validate import validate
from sigmascene.errors import SigmaError

CFG = SynthConfig(seed=11, size=128, min_subjects=2, max_subjects=5)


@pytest.fixture(scope="module")
def world(synth_world):
    return synth_world("synth", 4, CFG)


def test_synthesized_samples_pass_validation(world):
    report = validate(world)
    assert report.samples == 4
    assert report.problems == [], report.lines()


def test_every_sample_has_all_annotations_and_subject_count_in_range(world):
    samples = load_dataset(world)
    assert [s.id for s in samples] == ["000000", "000001", "000002", "000003"]
    assert [s.line for s in samples] == [1, 2, 3, 4]
    for s in samples:
        assert 1 <= len(s.subjects) <= 5
        assert s.depth and s.camera.cam_to_world is not None
        assert s.prompts.background and s.prompts.full.startswith(s.prompts.background[0].upper())
        for sub in s.subjects:
            assert sub.caption and sub.caption in s.prompts.full
            assert sub.mask and sub.box2d and sub.box3d and sub.identity_id
            assert 0.0 < sub.visible_fraction <= 1.0


def test_box2d_is_the_tight_box_of_the_visible_mask(world):
    for s in load_dataset(world):
        for sub in s.subjects:
            assert tuple(sub.box2d) == mask_box(load_mask(resolve(world, sub.mask)))


def test_masks_match_reprojected_3d_boxes(world):
    """Every visible pixel, lifted by the depth map, lies in its own subject's box; and the projected box
    contains the mask (boxes are exact, masks are the visible part)."""
    for s in load_dataset(world):
        depth = load_depth(resolve(world, s.depth))
        for sub in s.subjects:
            mask = load_mask(resolve(world, sub.mask))
            pts = backproject(depth, s.camera, mask)
            local = (pts - np.asarray(sub.box3d.center)) @ box_rotation(sub.box3d)
            slack = 0.02 + 0.005 * -pts[:, 2:3]  # MSAA depth is one sample, not the pixel centre
            inside = (np.abs(local) <= np.asarray(sub.box3d.size) / 2 + slack).all(axis=1)
            assert inside.mean() > 0.98, (s.id, sub.name, inside.mean())
            uv, d = project(box_corners(sub.box3d), s.camera)
            assert (d > 0).all()
            x0, y0, x1, y1 = sub.box2d
            assert uv[:, 0].min() <= x0 + 1 and uv[:, 1].min() <= y0 + 1
            assert uv[:, 0].max() >= x1 - 1 and uv[:, 1].max() >= y1 - 1


def test_visible_masks_are_disjoint_and_agree_with_depth(world):
    for s in load_dataset(world):
        masks = [load_mask(resolve(world, sub.mask)) for sub in s.subjects]
        assert (np.sum(masks, axis=0) <= 1).all()
        depth = load_depth(resolve(world, s.depth))
        assert depth.shape == (s.height, s.width) and depth.dtype == np.float32
        assert (depth > 0).all()  # a closed room: every pixel sees a surface


def test_identity_image_is_a_new_view_not_a_crop(world):
    for s in load_dataset(world):
        target = load_rgb(resolve(world, s.image)).astype(np.float32)
        for sub in s.subjects:
            ident = load_rgb(resolve(world, sub.identity))
            assert ident.shape == (CFG.size, CFG.size, 3)
            corners = ident[[0, 0, -1, -1], [0, -1, 0, -1]]
            assert (corners >= 250).all(), "identity images have a plain white background"
            x0, y0, x1, y1 = (int(v) for v in sub.box2d)
            from PIL import Image

            crop = Image.fromarray(target[y0:y1, x0:x1].astype(np.uint8)).resize(ident.shape[1::-1])
            diff = np.abs(np.asarray(crop, dtype=np.float32) - ident).mean()
            assert diff > 20, f"{s.id}/{sub.name}: identity looks like the target crop (mean diff {diff:.1f})"
            a = sub.attributes
            turn = abs((a["identity_azimuth"] - a["target_azimuth"] + 180) % 360 - 180)
            assert turn >= 69.9  # seen from another side
            assert a["identity_light"] in ("warm", "neutral", "cool")


def test_same_seed_same_bytes_whatever_the_worker_count(world, tmp_path):
    other = tmp_path / "again"
    synthesize(other, 2, CFG, workers=2)
    a = (world / INDEX).read_text().splitlines()[:2]
    b = (other / INDEX).read_text().splitlines()
    assert a == b
    for s in load_dataset(other):
        assert (other / s.image).read_bytes() == (world / s.image).read_bytes()
        assert np.array_equal(np.load(other / s.depth), np.load(world / s.depth))


def test_resume_after_interrupted_run_skips_finished_and_never_keeps_a_half_entry(world, tmp_path, monkeypatch):
    import sigmascene.data.synth.runner as runner

    real = runner.generate
    calls = []

    def dying(cfg, index, root):
        calls.append(index)
        if index == 2:
            (tmp_path / "ds" / "samples" / "000002.tmp").mkdir(parents=True)  # a half-written sample folder
            raise KeyboardInterrupt
        return real(cfg, index, root)

    monkeypatch.setattr(runner, "generate", dying)
    root = tmp_path / "ds"
    with pytest.raises(KeyboardInterrupt):
        synthesize(root, 4, CFG, workers=1)
    assert len((root / INDEX).read_text().splitlines()) == 2
    with open(root / INDEX, "ab") as fh:  # and a torn append, as a crash mid-write could leave
        fh.write(b'{"id": "000002", "ima')
    monkeypatch.setattr(runner, "generate", real)
    calls.clear()
    report = synthesize(root, 4, CFG, workers=1)
    assert (report.generated, report.skipped) == (2, 2)
    assert report.repaired_bytes > 0
    assert not (root / "samples" / "000002.tmp").exists()
    assert (root / INDEX).read_text() == (world / INDEX).read_text()
    assert synthesize(root, 4, CFG, workers=1).generated == 0


def test_resuming_with_other_settings_is_refused(world, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(world, root)
    with pytest.raises(SigmaError, match="other settings"):
        synthesize(root, 5, CFG.model_copy(update={"seed": 12}), workers=1)


def test_identity_pool_reuses_identities_across_samples(tmp_path):
    cfg = SynthConfig(seed=3, size=64, min_subjects=3, max_subjects=3, identities=4)
    synthesize(tmp_path / "pool", 3, cfg, workers=1)
    ids = [sub.identity_id for s in load_dataset(tmp_path / "pool") for sub in s.subjects]
    assert len(ids) == 9 and len(set(ids)) <= 4
    captions = {}
    for s in load_dataset(tmp_path / "pool"):
        for sub in s.subjects:
            assert captions.setdefault(sub.identity_id, sub.caption) == sub.caption  # same identity, same words


def test_cli_synth_validate_stats_show(tmp_path):
    from sigmascene.cli import app

    runner = CliRunner()
    root = tmp_path / "cli"
    r = runner.invoke(app, ["data", "synth", "--out", str(root), "--count", "2", "--size", "64", "--subjects", "1-3",
                            "--workers", "1", "--seed", "4"])
    assert r.exit_code == 0, r.output
    assert "2 samples rendered" in r.output
    assert runner.invoke(app, ["data", "validate", str(root)]).exit_code == 0
    r = runner.invoke(app, ["data", "stats", str(root), "--json"])
    assert r.exit_code == 0
    stats = json.loads(r.stdout)
    assert stats["samples"] == 2 and sum(stats["subjects_per_image"].values()) == 2
    r = runner.invoke(app, ["data", "show", str(root), "--sample", "1", "-o", str(tmp_path / "sheet.png")])
    assert r.exit_code == 0, r.output
    from PIL import Image

    with Image.open(tmp_path / "sheet.png") as im:
        assert im.width > 400 and im.height > 400


def test_cli_rejects_bad_subject_range_without_traceback(tmp_path):
    from sigmascene.cli import app

    r = CliRunner().invoke(app, ["data", "synth", "--out", str(tmp_path / "x"), "--subjects", "5-2"])
    assert r.exit_code == 1
    assert "--subjects 5-2" in r.output and "Traceback" not in r.output
