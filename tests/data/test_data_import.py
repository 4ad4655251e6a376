"""`data import`: users' folders (per-subject masks or id maps, depth, captions, identities, model hooks)."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from sigmascene.data import load_dataset
from sigmascene.data.importer import ImportOptions, import_folder
from sigmascene.data.io import load_rgb, resolve
from sigmascene.data.synth import SynthConfig
from sigmascene.data.validate import validate
from sigmascene.errors import SigmaError


@pytest.fixture(scope="module")
def world(synth_world):
    return synth_world("imp", 2, SynthConfig(seed=8, size=128, min_subjects=2, max_subjects=3))


def user_folder(world: Path, dest: Path, *, idmap: bool = False, depth: bool = True, identity: bool = False,
                captions: bool = True) -> Path:
    """The synthetic samples laid out the way a user's own data would be."""
    (dest / "images").mkdir(parents=True)
    caps = {}
    for s in load_dataset(world):
        stem = f"photo_{s.id}"
        shutil.copy(world / s.image, dest / "images" / f"{stem}.png")
        if depth:
            (dest / "depth").mkdir(exist_ok=True)
            np.save(dest / "depth" / f"{stem}.npy", np.load(world / s.depth))
        if idmap:
            (dest / "masks").mkdir(exist_ok=True)
            ids = np.zeros((s.height, s.width), dtype=np.uint8)
            for k, sub in enumerate(s.subjects, start=1):
                ids[np.asarray(Image.open(world / sub.mask)) > 0] = k
            Image.fromarray(ids).save(dest / "masks" / f"{stem}.png")
        else:
            (dest / "masks" / stem).mkdir(parents=True)
            for sub in s.subjects:
                shutil.copy(world / sub.mask, dest / "masks" / stem / f"{sub.name}.png")
        if identity:
            (dest / "identity" / stem).mkdir(parents=True)
            for sub in s.subjects:
                shutil.copy(world / sub.identity, dest / "identity" / stem / f"{sub.name}.png")
        caps[stem] = {"background": s.prompts.background, "full": s.prompts.full,
                      "subjects": {sub.name: sub.caption for sub in s.subjects},
                      "ids": {str(k): sub.name for k, sub in enumerate(s.subjects, start=1)}}
    if captions:
        (dest / "captions.json").write_text(json.dumps(caps))
    return dest


def test_import_with_identities_depth_and_captions_is_valid_and_fits_boxes(world, tmp_path):
    src = user_folder(world, tmp_path / "src", identity=True)
    result = import_folder(src, tmp_path / "out")
    assert (result.samples, result.crops) == (2, 0)
    assert validate(tmp_path / "out").ok
    truth, got = load_dataset(world), load_dataset(tmp_path / "out")
    for a, b in zip(truth, got):
        assert [s.name for s in b.subjects] == [s.name for s in a.subjects]
        assert [s.caption for s in b.subjects] == [s.caption for s in a.subjects]
        assert b.camera.estimated and b.depth is not None
        assert all(s.box2d == t.box2d and s.box3d is not None for s, t in zip(b.subjects, a.subjects))
        assert all(s.attributes["identity_source"] == "given" for s in b.subjects)


def test_instance_id_map_and_crop_fallback_is_reported(world, tmp_path):
    src = user_folder(world, tmp_path / "src", idmap=True, depth=False)
    result = import_folder(src, tmp_path / "out", ImportOptions(fit_boxes=False))
    subjects = [sub for s in load_dataset(world) for sub in s.subjects]
    assert result.crops == result.subjects == len(subjects)
    got = load_dataset(tmp_path / "out")
    assert [sub.name for s in got for sub in s.subjects] == [sub.name for sub in subjects]
    report = validate(tmp_path / "out")
    assert report.ok
    assert any("crop of the target" in p.message for p in report.warnings)
    crop = load_rgb(resolve(tmp_path / "out", got[0].subjects[0].identity))
    assert crop.shape[0] == crop.shape[1] and (crop[0, 0] == 255).all()


def test_model_commands_fill_in_depth_and_identity(world, tmp_path):
    src = user_folder(world, tmp_path / "src", depth=False)
    tool = tmp_path / "tool.py"
    tool.write_text(textwrap.dedent("""
        import sys
        import numpy as np
        from PIL import Image
        kind, image, out = sys.argv[1], sys.argv[2], sys.argv[-1]
        im = Image.open(image)
        if kind == "depth":
            np.save(out, np.full((im.height, im.width), 3.0, dtype=np.float32))
        else:  # "repose": mirror the crop, standing in for a reposing model
            im.transpose(Image.FLIP_LEFT_RIGHT).save(out)
    """))
    py = sys.executable
    opts = ImportOptions(depth_cmd=f"{py} {tool} depth {{image}} {{out}}",
                         repose_cmd=f"{py} {tool} repose {{image}} {{mask}} {{caption}} {{out}}")
    result = import_folder(src, tmp_path / "out", opts)
    assert result.crops == 0
    got = load_dataset(tmp_path / "out")
    depth = np.load(resolve(tmp_path / "out", got[0].depth))
    assert np.all(depth == 3.0)
    assert all(sub.attributes["identity_source"] == "repose" for s in got for sub in s.subjects)
    assert validate(tmp_path / "out").ok


def test_failing_model_command_is_a_clean_error(world, tmp_path):
    src = user_folder(world, tmp_path / "src", depth=False)
    opts = ImportOptions(depth_cmd=f"{sys.executable} -c \"import sys; sys.exit('no weights at /models/x')\" {{out}}")
    with pytest.raises(SigmaError, match="no weights at /models/x"):
        import_folder(src, tmp_path / "out", opts)
    with pytest.raises(SigmaError, match="unknown placeholder"):
        import_folder(src, tmp_path / "out2", ImportOptions(depth_cmd="x {weights}"))


def test_cli_import_warns_loudly_about_crops(world, tmp_path):
    from sigmascene.cli import app

    src = user_folder(world, tmp_path / "src")
    r = CliRunner().invoke(app, ["data", "import", str(src), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "CROPS" in r.output and "copy-paste" in r.output
    r = CliRunner().invoke(app, ["data", "import", str(src), "--out", str(tmp_path / "out")])
    assert r.exit_code == 1 and "already holds a dataset" in r.output
