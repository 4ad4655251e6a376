"""Honest tables: which backbones scored a table is read from their configs; tiny random ones or anything not the
paper's setup put a heading line on the table and keep the paper's rows away from it."""

from __future__ import annotations

import json

from sigmascene.eval.backbones import caveat, kind
from sigmascene.eval.report import heading, to_markdown, write_summary
from sigmascene.eval.weights import Weights

PAPER_CONFIGS = {
    "dino": {"model_type": "dinov2", "hidden_size": 768, "num_hidden_layers": 12},
    "siglip": {"model_type": "siglip", "vision_config": {"hidden_size": 1152, "patch_size": 14}},
    "depth": {"model_type": "depth_anything", "backbone_config": {"hidden_size": 1024}},
    "clip": {"model_type": "clip", "vision_config": {"hidden_size": 768, "patch_size": 16}},
}


def _folders(tmp_path, configs):
    paths = {}
    for key, cfg in configs.items():
        (tmp_path / key).mkdir()
        (tmp_path / key / "config.json").write_text(json.dumps(cfg))
        paths[key] = tmp_path / key
    return Weights.from_mapping(paths)


def test_the_paper_setup_needs_no_caveat(tmp_path):
    w = _folders(tmp_path, PAPER_CONFIGS)
    assert all(kind(k, w.path(k)) == "paper" for k in PAPER_CONFIGS)
    assert caveat(w) is None and heading(None) == ""


def test_tiny_backbones_are_named_in_the_heading(tmp_path):
    w = _folders(tmp_path, dict(PAPER_CONFIGS, dino={"model_type": "dinov2", "hidden_size": 32}))
    assert kind("dino", w.path("dino")) == "tiny"
    note = caveat(w)
    assert note is not None and note.startswith("TINY RANDOM WEIGHTS (dino)")


def test_another_model_is_not_the_papers(tmp_path):
    w = _folders(tmp_path, dict(PAPER_CONFIGS, dino={"model_type": "dinov2", "hidden_size": 1024,
                                                     "num_hidden_layers": 24}))
    note = caveat(w)
    assert note is not None and "not the paper's backbones (dino:" in note


def test_the_written_summary_carries_the_heading(tmp_path):
    files = write_summary([], ["dino_i"], tmp_path, "TINY RANDOM WEIGHTS (dino): ...")
    text = files[0].read_text()
    assert text.startswith("**TINY RANDOM WEIGHTS (dino): ...**\n\n") and text.endswith(to_markdown([], ["dino_i"]))
