"""The report: paper-layout summary, CSVs and the worst-case grid, from constructed case scores."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from sigmascene.eval.grid import HEAD_W, LABEL_H, TILE, worst_cases, worst_grid
from sigmascene.eval.report import (cells, header, paper_rows, summarize, to_markdown, write_case_csv,
                                    write_subject_csv, write_summary)
from sigmascene.eval.case_scores import CaseScore, SubjectScore


def _score(method, case, n, control, dino=(), mse=None, iqa=None, render="r.png"):
    subjects = [SubjectScore(f"s{i}", i + 1, 100, [0, 0, 8, 8], None, dino_i=v) for i, v in enumerate(dino)]
    got = [v for v in dino if v is not None]
    values = {"dino_i": float(np.mean(got)) if got else None, "depth_mse": mse, "clip_iqa": iqa}
    return CaseScore(method, case, "single" if n == 1 else "multi", control, n, render, values, subjects)


SCORES = [
    _score("lora", "c1", 1, "Mask,Depth", dino=[80.0], mse=10.0, iqa=70.0),
    _score("lora", "c2", 3, "Mask,Depth", dino=[70.0, 60.0, None], mse=30.0, iqa=60.0),
    _score("lora", "c3", 2, "Mask,Depth", dino=[50.0, 70.0], mse=50.0, iqa=80.0),
    _score("lora", "c4", 2, "Bbox", dino=[40.0, 42.0], mse=None, iqa=50.0),
    _score("base", "c2", 3, "Mask,Depth", dino=[20.0, 30.0, 40.0], mse=90.0, iqa=20.0),
]


def test_summary_rows_are_setting_method_control_with_case_means():
    rows = summarize(SCORES)
    keys = [(r.setting, r.method, r.control) for r in rows]
    assert keys[0] == ("Single-subject", "lora", "Mask,Depth")
    assert set(keys[1:]) == {("Multi-subject", "lora", "Mask,Depth"), ("Multi-subject", "base", "Mask,Depth"),
                             ("Multi-subject", "lora", "Bbox")}
    multi = next(r for r in rows if r.setting == "Multi-subject" and r.method == "lora" and r.control == "Mask,Depth")
    assert multi.cases == 2
    assert multi.values["dino_i"] == pytest.approx((65.0 + 60.0) / 2)  # mean of case means
    assert multi.values["depth_mse"] == pytest.approx(40.0)
    bbox = next(r for r in rows if r.control == "Bbox")
    assert bbox.values["depth_mse"] is None and bbox.values["musiq"] is None
    assert cells(bbox, ["dino_i", "depth_mse"])[-1] == "-"


def test_summary_can_group_by_exact_subject_count():
    rows = summarize(SCORES, by="count")
    assert [r.setting for r in rows][0] == "1 subject"
    assert {r.setting for r in rows} == {"1 subject", "2 subjects", "3 subjects"}


def test_markdown_table_has_the_paper_columns_and_reference_rows():
    keys = ["dino_i", "siglip_i", "siglip_t", "depth_mse", "clip_iqa", "musiq"]
    assert header(keys)[4:] == ["DINO-I↑", "SigLIP-I↑", "SigLIP-T↑", "MSE↓", "CLIP-IQA↑", "MUSIQ↑"]
    md = to_markdown(summarize(SCORES) + paper_rows(), keys)
    assert "| Multi-subject | SIGMA-GEN (paper) | Mask,Depth |  | 74.54 | 77.82 | 17.73 | 26.35 | 72.64 | 73.21 |" in md
    assert "| Multi-subject | SIGMA-GEN (paper) | Bbox |  | 71.90 |" in md


def test_case_and_subject_csvs_round_trip(tmp_path):
    write_case_csv(SCORES, tmp_path / "cases.csv")
    write_subject_csv(SCORES, tmp_path / "subjects.csv")
    cases = list(csv.DictReader((tmp_path / "cases.csv").open()))
    assert len(cases) == len(SCORES)
    assert cases[1]["case"] == "c2" and float(cases[1]["dino_i"]) == pytest.approx(65.0)
    assert cases[3]["depth_mse"] == ""  # not applicable stays empty, not 0
    subs = list(csv.DictReader((tmp_path / "subjects.csv").open()))
    assert len(subs) == sum(len(s.subjects) for s in SCORES)
    assert subs[3]["dino_i"] == ""  # the hidden subject of c2
    files = write_summary(summarize(SCORES), ["dino_i", "depth_mse"], tmp_path / "report")
    assert all(p.is_file() for p in files)


def test_worst_cases_rank_subjects_for_identity_and_cases_for_image_metrics():
    worst_dino = worst_cases(SCORES, "dino_i", 4)
    assert [(w.score.method, w.subject.subject, w.value) for w in worst_dino] == [
        ("base", "s0", 20.0), ("base", "s1", 30.0), ("base", "s2", 40.0), ("lora", "s0", 40.0)]  # ties: by method
    worst_mse = worst_cases(SCORES, "depth_mse", 2)  # MSE: highest is worst
    assert [w.value for w in worst_mse] == [90.0, 50.0]
    assert worst_cases(SCORES, "musiq", 3) == []


def test_worst_grid_png_has_one_row_per_metric_with_values(tmp_path):
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "r.png")
    out = worst_grid(tmp_path, SCORES, tmp_path / "report" / "worst.png", k=4)
    with Image.open(out) as im:
        assert im.size == (HEAD_W + 4 * (TILE + 4), 3 * (TILE + LABEL_H + 6))  # dino_i, depth_mse, clip_iqa
    assert worst_grid(tmp_path, [], tmp_path / "none.png") is None


def test_worst_grid_crops_renders_of_another_size_in_canvas_pixels(tmp_path):
    """A render at half the canvas size is resampled before its subject box (canvas pixels) is cut out."""
    from sigmascene.eval.grid import _tile

    im = np.zeros((16, 16, 3), np.uint8)
    im[:, 8:] = 255  # right half white at render size 16 = right half of the 32 px canvas
    Image.fromarray(im).save(tmp_path / "half.png")
    sub = SubjectScore("s", 1, 256, [16, 0, 32, 32], None, dino_i=10.0)
    score = CaseScore("m", "c", "single", "Bbox", 1, "half.png", {"dino_i": 10.0}, [sub], canvas=[32, 32])
    tile = np.asarray(_tile(tmp_path, worst_cases([score], "dino_i", 1)[0]))
    crop_half = tile[:TILE, : TILE // 2 - 1]
    assert crop_half[TILE // 2, TILE // 4].tolist() == [255, 255, 255]
