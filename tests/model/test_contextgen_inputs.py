"""ContextGen's input rules: edit template, reference size by canvas, 16-px grid, token boxes, mask thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sigmascene.errors import SigmaError
from sigmascene.model.contextgen.attention import block_masks
from sigmascene.model.contextgen.inputs import (layout_planes, load_reference, reference_base_size, round_canvas,
                                                token_box, token_mask, uniform_resize_16x)
from sigmascene.model.contextgen.prompt import edit_prompt


def test_edit_template_strips_one_leading_photo_phrase_and_keeps_the_trailing_period():
    p = edit_prompt("A Photo of a cat on sand.")
    assert p.startswith("Modify the image to depict 'a cat on sand.'. While preserving the original layout")
    assert p.endswith("Ensure the result appears natural and visually harmonious.")
    assert "'an image of a photo of x'" not in edit_prompt("an image of a photo of x")
    assert "'a photo of x'" in edit_prompt("an image of a photo of x")
    assert "'two dogs'" in edit_prompt("two dogs")


@pytest.mark.parametrize("h,w,base", [(256, 512, 256), (384, 384, 256), (512, 768, 384), (768, 768, 512),
                                      (1024, 1024, 768), (1040, 2048, 1024)])
def test_reference_base_size_follows_the_short_side(h, w, base):
    assert reference_base_size(h, w) == base


def test_uniform_resize_truncates_then_rounds_up_to_16():
    assert uniform_resize_16x((1000, 500), 512) == (736, 368)  # 724.08 -> 724 -> 736; 362.04 -> 368
    assert uniform_resize_16x((512, 512), 512) == (512, 512)
    assert uniform_resize_16x((4000, 10), 256) == (5120, 16)  # at least 16


def test_canvas_off_the_16_px_grid_is_rounded_with_a_note():
    assert round_canvas(512, 768) == (512, 768, None)
    w, h, note = round_canvas(500, 770)
    assert (w, h) == (496, 768) and "rounded to 496x768" in note
    assert round_canvas(5, 5)[:2] == (16, 16)


def test_token_box_takes_every_touched_token():
    assert token_box((4, 17, 40, 32), (4, 4)) == (0, 1, 3, 2)
    assert token_box((0, 0, 64, 64), (4, 4)) == (0, 0, 4, 4)


def _rgba(w, h, alpha):
    a = np.full((h, w, 4), 200, np.uint8)
    a[..., 3] = alpha
    return Image.fromarray(a, "RGBA")


def test_reference_from_alpha_is_resized_and_its_token_mask_counts_any_nonzero_alpha():
    ref = load_reference(_rgba(40, 20, 100), [0, 0, 16, 16], base=256)
    assert ref.image.mode == "RGB" and ref.mask.mode == "L" and ref.image.size == ref.mask.size == (368, 192)
    assert ref.token_size == (23, 12) and ref.bbox == (0, 0, 16, 16)
    assert bool(token_mask(ref).all())  # alpha 100 > 0: every token valid ...
    from diffusers.image_processor import VaeImageProcessor
    proc = VaeImageProcessor(vae_scale_factor=16, do_normalize=False, do_binarize=True, do_convert_grayscale=True)
    assert float(proc.preprocess(ref.mask).max()) == 0.0  # ... yet its pixels are blanked (100 < 128)


def test_reference_modes():
    rgb = Image.new("RGB", (32, 32), (1, 2, 3))
    with pytest.raises(SigmaError, match="needs a mask"):
        load_reference(rgb, [0, 0, 8, 8], base=256)
    ref = load_reference(rgb, [0, 0, 8, 8], base=None, mask=Image.new("L", (32, 32), 255))
    assert ref.image.size == (32, 32)
    pal = Image.new("P", (32, 32), 0)
    pal.info["transparency"] = 0
    assert load_reference(pal, [0, 0, 8, 8], base=None).mask.getextrema() == (255, 255)


def test_layout_must_be_rgba_and_is_resized_to_the_canvas():
    rgb, alpha = layout_planes(_rgba(32, 16, 255), 64, 48)
    assert rgb.size == alpha.size == (64, 48) and rgb.mode == "RGB" and alpha.mode == "L"
    with pytest.raises(SigmaError, match="RGBA"):
        layout_planes(Image.new("RGB", (8, 8)), 16, 16)


def test_masks_are_assigned_per_block_as_contextgen_forward_does():
    class _T:
        transformer_blocks = [0, 0]
        single_transformer_blocks = [0, 0, 0, 0, 0]

    kinds = block_masks(_T())
    assert {kinds[f"transformer_blocks.{i}.attn.processor"] for i in range(2)} == {"layout_only"}
    single = [kinds[f"single_transformer_blocks.{i}.attn.processor"] for i in range(5)]
    assert single == ["reference_aware"] * 2 + ["layout_only"] * 3  # switch at 5 // 2

    class _One(_T):
        single_transformer_blocks = [0]

    assert block_masks(_One())["single_transformer_blocks.0.attn.processor"] == "layout_only"
