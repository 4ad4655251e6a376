"""Previews do not mislead: the legend is never cut at the edge, thumbnails and tags never hide a small subject
or each other, the farthest depth stands out from the dark background, worst.png names stay told apart."""

import numpy as np
from PIL import Image, ImageDraw

import sigmascene
from sigmascene.eval.grid import TILE, _tile, worst_cases
from sigmascene.eval.case_scores import CaseScore, SubjectScore
from sigmascene.compiler.preview import (MAP_BG, SHEET_BG, _depth_lut, _layout_panel, _legend_panel, elide, font,
                                layout_preview)

from repo_paths import EXAMPLES

SMALL = f'''sigma 1
canvas 512 x 512
subject table {{ ref "{EXAMPLES}/refs/armchair.png" box2d (0.05, 0.3, 0.95, 0.95) depth 4 }}
subject lemon {{ ref "{EXAMPLES}/refs/vase.png" box2d (0.40, 0.50, 0.46, 0.56) depth 3 }}
subject cup {{ ref "{EXAMPLES}/refs/lamp.png" box2d (0.47, 0.52, 0.53, 0.58) depth 2.9 }}
subject a_subject_with_a_really_long_descriptive_name {{
    ref "{EXAMPLES}/refs/plant.png" box2d (0.7, 0.1, 0.98, 0.4) depth 6.5 }}
'''


def _compiled():
    return sigmascene.compile(sigmascene.loads(SMALL))


def test_legend_is_never_cut_at_the_right_edge():
    c = _compiled()
    for width in (300, 420, 600):
        panel = np.asarray(_legend_panel(c, (width, 200)))
        right = panel[:, -6:]  # the last columns hold nothing but background
        assert (right == SHEET_BG).all(), width
    sheet = np.asarray(layout_preview(sigmascene.compile(sigmascene.load(EXAMPLES / "living_room.sigma"))))
    assert (sheet[:, -8:] == SHEET_BG).all()


def test_thumbnails_and_tags_leave_small_subjects_visible_and_do_not_overlap():
    c = _compiled()
    size = (512, 512)
    img = _layout_panel(c, size)
    marks = img.info["marks"]
    boxes = marks["boxes"] + [box for _, box in marks["tags"]]
    for name in ("lemon", "cup"):
        k = c.order.index(name)
        ys, xs = np.nonzero(np.asarray(Image.fromarray(c.ir_asc == 10 * (k + 1)).resize(size)))
        region = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        for b in boxes:
            assert not (b[0] < region[2] and region[0] < b[2] and b[1] < region[3] and region[1] < b[3]), (name, b)
    for i, a in enumerate(marks["boxes"]):
        for b in marks["boxes"][i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    tags = {text for text, _ in marks["tags"]}
    assert {"30 lemon", "40 cup", "10 a_subject_with_a_really_long_descriptive_name"} <= tags
    for _, (x0, y0, x1, y1) in marks["tags"]:
        assert 0 <= x0 and x1 <= size[0] and 0 <= y0 and y1 <= size[1]  # the whole tag is on the panel


def test_the_farthest_depth_is_far_from_the_background_colour():
    lut = _depth_lut().astype(int)
    assert np.abs(lut[1] - np.asarray(MAP_BG)).sum() > 150  # code 1 = the farthest surface
    assert np.abs(lut[255] - np.asarray(MAP_BG)).sum() > 150


def test_elide_keeps_both_ends_and_fits():
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text = "sigma-lora-final-single: multi_0012_mask_depth/s2"
    short = elide(text, 120, 11)
    x0, _, x1, _ = draw.textbbox((0, 0), short, font=font(11))
    assert x1 - x0 <= 120 and short.startswith("sig") and short.endswith("s2") and "…" in short
    assert elide("c1/s0", 120, 11) == "c1/s0"


def test_worst_tiles_tell_a_mask_case_from_a_box_case(tmp_path):
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "r.png")

    def tile(case):
        sub = SubjectScore("s0", 1, 100, [0, 0, 8, 8], None, dino_i=10.0)
        score = CaseScore("sigma-lora-final-single", case, "multi", "Mask,Depth", 3, "r.png", {"dino_i": 10.0}, [sub])
        return np.asarray(_tile(tmp_path, worst_cases([score], "dino_i", 1)[0]))[TILE:]

    assert not np.array_equal(tile("multi_0012_mask_depth"), tile("multi_0012_box2d"))
