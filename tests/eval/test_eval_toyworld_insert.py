"""`sigmascene eval toyworld --insert` with the embedded demo model on two tiny scenes: each room rendered
without its subjects is the photo, the subjects are inserted, and every pixel outside the blend region (plus
feather) stays the photo's own: the report's unchanged-outside share is exactly 100 %."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from sigmascene.cli import app

runner = CliRunner()
TINY = ["--count", "1", "--subjects", "1-2", "--size", "64", "--steps", "1"]


@pytest.mark.slow
def test_insert_keeps_the_photo_outside_and_reports_the_insert_columns(tmp_path):
    out = tmp_path / "tw"
    res = runner.invoke(app, ["eval", "toyworld", "--insert", "--out", str(out), *TINY])
    assert res.exit_code == 0, res.output
    photos = sorted(p.name for p in (out / "insert" / "photos").glob("*.png"))
    assert photos == ["n01-000000.png", "n02-000000.png"]
    for name in photos:  # the empty room: same canvas as the sample, and not the sample (its subjects are gone)
        photo = np.asarray(Image.open(out / "insert" / "photos" / name))
        sample = np.asarray(Image.open(out / "world" / name[:3] / "samples" / name[4:10] / "image.png"))
        assert photo.shape == sample.shape and not np.array_equal(photo, sample)
    rows = list(csv.DictReader((out / "report" / "toyworld.csv").open()))
    assert [r["N"] for r in rows] == ["1", "2"]
    for r in rows:
        for mode in ("single", "iterative"):
            assert r[f"unchanged_{mode}"] == "100.0"
            assert float(r[f"seconds_{mode}"]) > 0 and r[f"identity_{mode}"] != "" and r[f"placement_{mode}"] != ""
    table = (out / "report" / "toyworld.md").read_text()
    assert "unchanged outside % single" in table and "unchanged outside % iterative" in table
    assert any(p.name.endswith("-insert-single") for p in (out / "renders").iterdir())
