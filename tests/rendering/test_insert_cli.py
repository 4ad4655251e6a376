"""Insertion from the command line as a user tries it: `preview` draws the layout over the photo, `render`
with a tiny model returns the photo with every pixel outside the blend region (plus feather) untouched."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

import sigmascene
from sigmascene.cli import app
from sigmascene.model.insert import feather_alpha
from sigmascene.testing.tiny_pipeline import save_tiny_pipeline, save_tiny_sigma_lora
from sigmascene.compiler.preview import _layout_panel, _small

from test_insert_model import write_room

runner = CliRunner()


def test_layout_preview_shows_the_photo_around_the_subjects(tmp_path):
    compiled = sigmascene.compile(sigmascene.load(write_room(tmp_path)))
    panel = np.asarray(_layout_panel(compiled, (256, 192), thumbs=False))
    photo = np.asarray(Image.open(tmp_path / "photo.png").resize((256, 192), Image.BILINEAR))
    far = ~_small(compiled.blend_region, (256, 192))  # away from the subjects (name tags aside): the photo
    assert (panel[far] == photo[far]).all(axis=1).mean() > 0.8


def test_render_with_a_tiny_model_keeps_the_photo_outside_the_region_and_records_options(env):
    base = save_tiny_pipeline(env / "tiny")
    scene = write_room(env)
    out = env / "out.png"
    lora = save_tiny_sigma_lora(env / "sigma.safetensors")
    res = runner.invoke(app, ["render", str(scene), "--base", str(base), "--lora", str(lora), "--steps", "2",
                              "--blend-margin", "3", "--feather", "2", "-o", str(out)])
    assert res.exit_code == 0, res.output
    image, photo = np.asarray(Image.open(out)), np.asarray(Image.open(env / "photo.png"))
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["background"]["blend_margin_px"] == 3 and side["background"]["feather_px"] == 2
    compiled = sigmascene.compile(sigmascene.load(scene), blend_margin=3)
    keep = feather_alpha(compiled.blend_region, 2) == 0
    assert keep.any() and np.array_equal(image[keep], photo[keep])


def test_negative_feather_is_refused_by_the_cli(env):
    res = runner.invoke(app, ["render", str(write_room(env)), "--feather", "-1"])
    assert res.exit_code != 0 and "Traceback" not in res.output
