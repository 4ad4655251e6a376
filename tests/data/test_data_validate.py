"""`data validate` catches each class of broken sample, at the right index.jsonl line, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from sigmascene.data.geometry import intrinsics_from_fov
from sigmascene.data.io import INDEX, load_dataset
from sigmascene.data.validate import validate
from sigmascene.errors import SigmaError

W, H, D = 64, 48, 2.5


def _subject(root: Path, sid: str, name: str, rect: tuple[int, int, int, int], cam: dict) -> dict:
    x0, y0, x1, y1 = rect
    m = np.zeros((H, W), dtype=np.uint8)
    m[y0:y1, x0:x1] = 255
    Image.fromarray(m).save(root / f"{sid}_{name}_mask.png")
    Image.fromarray(np.full((32, 32, 3), 200, dtype=np.uint8)).save(root / f"{sid}_{name}_id.png")
    cx = ((x0 + x1) / 2 - cam["cx"]) * D / cam["fx"]
    cy = -((y0 + y1) / 2 - cam["cy"]) * D / cam["fy"]
    size = ((x1 - x0) * D / cam["fx"], (y1 - y0) * D / cam["fy"], 0.3)
    return {"name": name, "identity": f"{sid}_{name}_id.png", "mask": f"{sid}_{name}_mask.png", "box2d": list(rect),
            "box3d": {"center": [cx, cy, -D], "size": list(size)}, "caption": f"a {name}"}


def make_dataset(root: Path) -> list[dict]:
    """Three hand-made, valid samples: boxes derived from rectangles, so every check has an exact answer."""
    root.mkdir(parents=True, exist_ok=True)
    fx, fy, cx, cy = intrinsics_from_fov(W, H, 60)
    cam = {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "width": W, "height": H}
    samples = []
    for k in range(3):
        sid = f"s{k}"
        Image.fromarray(np.random.default_rng(k).integers(0, 255, (H, W, 3), dtype=np.uint8)).save(root / f"{sid}.png")
        np.save(root / f"{sid}_depth.npy", np.full((H, W), D, dtype=np.float32))
        subs = [_subject(root, sid, "cup", (4, 6, 20, 30), cam), _subject(root, sid, "lamp", (30, 10, 50, 40), cam)]
        samples.append({"id": sid, "image": f"{sid}.png", "camera": cam, "depth": f"{sid}_depth.npy",
                        "prompts": {"background": "a room", "full": "a cup and a lamp in a room"}, "subjects": subs})
    write(root, samples)
    return samples


def write(root: Path, samples: list, raw: dict[int, str] | None = None) -> None:
    lines = [json.dumps(s) for s in samples]
    for k, text in (raw or {}).items():
        lines[k] = text
    (root / INDEX).write_text("".join(line + "\n" for line in lines))


def test_hand_made_dataset_is_valid(tmp_path):
    make_dataset(tmp_path)
    report = validate(tmp_path)
    assert report.samples == 3 and report.problems == [], report.lines()
    assert [s.line for s in load_dataset(tmp_path)] == [1, 2, 3]


def _garbage_image(root, s):
    (root / s["image"]).write_bytes(b"\x89PNG\r\n\x1a\nnot really")


def _wrong_image_size(root, s):
    Image.fromarray(np.zeros((H + 1, W, 3), dtype=np.uint8)).save(root / s["image"])


def _mask_size(root, s):
    Image.fromarray(np.full((H, W // 2), 255, dtype=np.uint8)).save(root / s["subjects"][0]["mask"])


def _empty_mask(root, s):
    Image.fromarray(np.zeros((H, W), dtype=np.uint8)).save(root / s["subjects"][1]["mask"])


def _depth_shape(root, s):
    np.save(root / s["depth"], np.full((H, W + 3), D, dtype=np.float32))


def _depth_nan(root, s):
    d = np.full((H, W), D, dtype=np.float32)
    d[3, 3] = np.nan
    np.save(root / s["depth"], d)


def _missing_identity(root, s):
    (root / s["subjects"][1]["identity"]).unlink()


BREAKAGES = {  # name: (edit the sample dict / its files, expected message fragment)
    "missing image": (lambda r, s: s.update(image="nope.png"), "image: missing file"),
    "undecodable image": (_garbage_image, "image: cannot decode"),
    "image size": (_wrong_image_size, "image is 64x49 but camera"),
    "mask size": (_mask_size, "mask is 32x48 but the image is 64x48"),
    "empty mask": (_empty_mask, "mask is empty"),
    "box2d vs mask": (lambda r, s: s["subjects"][0].update(box2d=[4, 6, 28, 30]), "disagrees with its mask"),
    "box2d outside": (lambda r, s: s["subjects"][0].update(box2d=[4, 6, 20, 60]), "leaves the 64x48 image"),
    "box3d behind camera": (lambda r, s: s["subjects"][1]["box3d"].update(center=[0, 0, 2.5]), "behind the camera"),
    "box3d elsewhere": (lambda r, s: s["subjects"][1]["box3d"].update(center=[-2.0, 1.0, -2.5]),
                        "falls inside its projected box3d"),
    "depth shape": (_depth_shape, "depth is 67x48 but the image is 64x48"),
    "depth nan": (_depth_nan, "NaN"),
    "missing identity": (_missing_identity, "identity image: missing file"),
    "no subjects": (lambda r, s: s.update(subjects=[]), "no subjects"),
    "too many subjects": (lambda r, s: s.update(subjects=[dict(s["subjects"][0], name=f"c{k}") for k in range(26)]),
                          "at most 25"),
    "schema: negative size": (lambda r, s: s["subjects"][0]["box3d"].update(size=[1, -1, 1]), "size must be positive"),
    "schema: misspelt key": (lambda r, s: s["subjects"][0].update(captoin="x"), "captoin"),
    "schema: bad name": (lambda r, s: s["subjects"][0].update(name="2 cups"), "must be an identifier"),
    "duplicate id": (lambda r, s: s.update(id="s0"), "repeats line 1"),
}


@pytest.mark.parametrize("kind", list(BREAKAGES))
def test_each_broken_sample_is_reported_at_its_line(tmp_path, kind):
    samples = make_dataset(tmp_path)
    edit, expected = BREAKAGES[kind]
    edit(tmp_path, samples[1])
    write(tmp_path, samples)
    report = validate(tmp_path)
    assert not report.ok
    assert {p.line for p in report.errors} == {2}, report.lines()
    assert any(expected in p.message for p in report.errors), report.lines()
    assert any(line.startswith(f"{tmp_path / INDEX}:2: error: ") for line in report.lines())


def test_invalid_json_and_torn_last_line(tmp_path):
    samples = make_dataset(tmp_path)
    write(tmp_path, samples, raw={1: '{"id": "s1", '})
    with open(tmp_path / INDEX, "a") as fh:
        fh.write('{"id": "s3", "image"')  # no newline: an interrupted append
    report = validate(tmp_path)
    assert {p.line for p in report.errors} == {2, 4}
    assert "not valid JSON" in report.errors[0].message
    assert "unterminated last line" in report.errors[1].message
    with pytest.raises(SigmaError) as exc:
        load_dataset(tmp_path)
    assert {d.loc.line for d in exc.value.diagnostics} == {2, 4}


def test_warnings_do_not_fail_validation(tmp_path):
    samples = make_dataset(tmp_path)
    samples[2]["subjects"][0]["caption"] = ""
    samples[2]["prompts"]["full"] = "@cup and @ghost"
    write(tmp_path, samples)
    report = validate(tmp_path)
    assert report.ok
    assert {p.line for p in report.warnings} == {3}
    assert any("@ghost" in p.message for p in report.warnings)


def test_cli_exit_code_and_located_output(tmp_path):
    from sigmascene.cli import app

    samples = make_dataset(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["data", "validate", str(tmp_path)]).exit_code == 0
    samples[2]["subjects"][1]["box2d"] = [0, 0, 5, 5]
    write(tmp_path, samples)
    r = runner.invoke(app, ["data", "validate", str(tmp_path)])
    assert r.exit_code == 1
    assert f"{INDEX}:3: error: subject 'lamp': box2d" in r.stdout
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["data", "validate", str(tmp_path / "nowhere")])
    assert r.exit_code == 1 and "no index.jsonl" in r.stdout


def test_a_missing_index_is_reported_for_the_folder_never_at_line_0(tmp_path):
    from sigmascene.cli import app

    r = CliRunner().invoke(app, ["data", "validate", str(tmp_path / "nowhere")])
    assert r.exit_code == 1 and f"{tmp_path / 'nowhere'}: error: no index.jsonl in" in r.stdout
    assert ":0:" not in r.output and "data synth" in r.stdout
