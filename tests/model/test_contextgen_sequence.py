"""ContextGen's token sequence, RoPE ids and attention masks against small cases worked out by hand."""

from __future__ import annotations

import pytest
import torch

from sigmascene.errors import SigmaError
from sigmascene.model.contextgen.masks import attention_masks
from sigmascene.model.contextgen.sequence import SequenceLayout, check_fits, position_ids, sequence_layout


def _bits(mask: torch.Tensor) -> list[str]:
    return ["".join("1" if v else "0" for v in row) for row in mask[0, 0].tolist()]


def test_ids_put_main_at_axis0_0_layout_on_the_same_grid_and_one_reference_at_the_bottom_right_corner():
    seq = sequence_layout((2, 3), [(2, 1)])  # canvas 2 rows x 3 cols; one reference 2 wide, 1 high
    text, image = position_ids(seq, dtype=torch.float32)
    assert text.shape == (512, 3) and not text.any()
    assert image.tolist() == [
        [0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 0], [0, 1, 1], [0, 1, 2],   # main (axis0, y, x)
        [1, 0, 0], [1, 0, 1], [1, 0, 2], [1, 1, 0], [1, 1, 1], [1, 1, 2],   # layout
        [1, 2, 3], [1, 2, 4],                                                 # ref: x from W=3, y from H=2
    ]


def test_ids_of_two_references_run_down_the_diagonal():
    seq = sequence_layout((2, 3), [(2, 1), (1, 2)])
    _, image = position_ids(seq, dtype=torch.float32)
    assert image[12:].tolist() == [[1, 2, 3], [1, 2, 4], [1, 3, 5], [1, 4, 5]]  # second: x 3+2, y 2+1
    assert seq.ends == [6, 12, 14, 16] and seq.total == 512 + 16


def test_ids_are_rounded_to_bf16_before_rope_as_contextgen_does():
    seq = SequenceLayout(grid=(1, 250), ref_sizes=((10, 1),), n_text=4)
    _, image = position_ids(seq)  # default bf16
    assert image.dtype == torch.bfloat16
    xs = image[500:, 2].float().tolist()  # the reference: x = 250..259 before rounding
    assert xs == [250, 251, 252, 253, 254, 255, 256, 256, 258, 260]


def test_a_reference_past_position_256_is_refused_with_its_name():
    seq = sequence_layout((48, 48), [(32, 32)] * 7)  # 768 px canvas, 512 px references
    assert seq.first_overflow() == 6
    with pytest.raises(SigmaError, match="vase does not fit"):
        check_fits(seq, [f"s{i}" for i in range(6)] + ["vase"])
    check_fits(sequence_layout((48, 48), [(32, 32)] * 6))


def test_masks_one_box_and_a_masked_reference_token():
    # text 2 | main 2x2 | layout 2x2 | ref 2x1 with its second token masked out; box = column 0 of the canvas
    seq = SequenceLayout(grid=(2, 2), ref_sizes=((2, 1),), n_text=2)
    m = attention_masks(seq, [(0, 0, 1, 2)], [torch.tensor([True, False])])
    assert _bits(m.reference_aware) == [
        "111111111100",  # text: text, main, layout; never references
        "111111111100",
        "111111111110",  # main (0,0): in the box -> the reference's valid token
        "111111111100",  # main (0,1)
        "111111111110",  # main (1,0): in the box
        "111111111100",  # main (1,1)
        "111111111100",  # layout rows see no reference
        "111111111100",
        "111111111100",
        "111111111100",
        "110000000010",  # reference rows: text + own valid tokens, even the masked-out row
        "110000000010",
    ]
    lo = _bits(m.layout_only)
    assert lo[2] == lo[4] == "111111111100"  # layout-only: main sees no reference
    assert lo[10:] == _bits(m.reference_aware)[10:]


def test_masks_two_overlapping_boxes():
    # text 1 | main 1x3 | layout 1x3 | A 1x1 | B 1x1; A's box covers x 0..1, B's x 1..2: x=1 sees both
    seq = SequenceLayout(grid=(1, 3), ref_sizes=((1, 1), (1, 1)), n_text=1)
    m = attention_masks(seq, [(0, 0, 2, 1), (1, 0, 3, 1)], [torch.tensor([True]), torch.tensor([True])])
    assert _bits(m.reference_aware) == [
        "111111100",
        "111111110",
        "111111111",
        "111111101",
        "111111100",
        "111111100",
        "111111100",
        "100000010",
        "100000001",
    ]
    assert _bits(m.layout_only)[1:4] == ["111111100"] * 3


def test_mask_shapes_broadcast_over_batch_and_heads():
    seq = sequence_layout((2, 2), [(1, 1)])
    m = attention_masks(seq, [(0, 0, 2, 2)], [torch.tensor([True])])
    assert m.reference_aware.shape == m.layout_only.shape == (1, 1, seq.total, seq.total)
    assert m.reference_aware.dtype == torch.bool
