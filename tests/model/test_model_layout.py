"""The token layout [P, X, I_S, I_C]: packing, RoPE ids and condition encoding, shared by inference and training."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sigmascene.errors import SigmaError
from sigmascene.model.layout import (
    condition_image_size, encode_conditions, grid_ids, make_layout, pack_latents, prepare_condition_image,
    sequence_ids, to_uint8_rgb, unpack_latents,
)


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 3), c=st.integers(1, 5), rows=st.integers(1, 6), cols=st.integers(1, 6))
def test_unpack_inverts_pack_for_any_grid(b, c, rows, cols):
    lat = torch.randn(b, c, rows * 2, cols * 2)
    tokens = pack_latents(lat)
    assert tokens.shape == (b, rows * cols, 4 * c)
    assert torch.equal(unpack_latents(tokens, (rows, cols)), lat)


def test_packing_and_ids_match_diffusers_flux_kontext():
    from diffusers import FluxKontextPipeline

    lat = torch.randn(2, 4, 6, 10)
    assert torch.equal(pack_latents(lat), FluxKontextPipeline._pack_latents(lat, 2, 4, 6, 10))
    ref = FluxKontextPipeline._prepare_latent_image_ids(1, 3, 5, "cpu", torch.float32)
    assert torch.equal(grid_ids(3, 5), ref)


def test_x_and_control_share_one_grid_and_identity_is_on_axis_one():
    layout = make_layout(7, (64, 48), (96, 32))
    assert (layout.n_x, layout.n_s, layout.n_c) == (12, 12, 12)
    ids = sequence_ids(layout)
    assert torch.equal(ids["txt"], torch.zeros(7, 3))
    ident, ctrl = ids["cond"][: layout.n_s], ids["cond"][layout.n_s:]
    assert torch.equal(ctrl, ids["x"])
    assert set(ids["x"][:, 0].tolist()) == {0.0}
    assert set(ident[:, 0].tolist()) == {1.0}
    assert ident[:, 1].max() == 96 // 16 - 1 and ident[:, 2].max() == 32 // 16 - 1
    assert ids["img"].shape == (layout.n_img, 3)
    sl = layout.slices()
    assert [sl[k].stop - sl[k].start for k in ("txt", "x", "identity", "control")] == [7, 12, 12, 12]
    assert sl["control"].stop == layout.total


def test_layout_rejects_sizes_that_do_not_split_into_tokens():
    with pytest.raises(SigmaError, match="16x16 px tokens"):
        make_layout(4, (64, 40), (32, 32))


def test_condition_sizes_round_to_token_multiples():
    assert condition_image_size(1024, 512) == (1024, 512)
    assert condition_image_size(250, 9) == (256, 16)


def test_control_map_resize_keeps_routing_labels():
    ctrl = np.zeros((30, 30, 3), np.uint8)
    ctrl[5:20, 5:20, 0] = 10
    ctrl[10:28, 10:28, 0] = 20
    t = prepare_condition_image(ctrl, (64, 64), nearest=True)
    labels = set(np.unique(np.round((t[0, 0].numpy() + 1) * 127.5)).astype(int).tolist())
    assert labels <= {0, 10, 20}


def test_arrays_of_any_common_kind_become_uint8_rgb():
    assert to_uint8_rgb(np.ones((4, 5), np.float32)).max() == 255
    assert to_uint8_rgb(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)
    with pytest.raises(SigmaError, match="RGB image"):
        to_uint8_rgb(np.zeros((4, 5, 2)))


def test_condition_tokens_are_identity_then_control_in_layout_order():
    from sigmascene.testing.tiny_pipeline import make_tiny_components

    vae = make_tiny_components(0)["vae"]
    ctrl = np.zeros((64, 48, 3), np.uint8)
    ident = np.full((96, 32, 3), 200, np.uint8)
    tokens, canvas, ident_hw = encode_conditions(vae, ctrl, ident)
    layout = make_layout(5, canvas, ident_hw)
    assert tokens.shape == (1, layout.n_cond, 16)
    alone, _, _ = encode_conditions(vae, np.zeros((64, 48, 3), np.uint8), np.zeros((96, 32, 3), np.uint8))
    # only the identity part changes when only I_S changes
    assert not torch.allclose(tokens[:, : layout.n_s], alone[:, : layout.n_s])
    assert torch.allclose(tokens[:, layout.n_s:], alone[:, layout.n_s:])
