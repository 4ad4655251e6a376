"""Gradient checkpointing of the SIGMA forward is diffusers' switch on the transformer, or an argument of the
call: each block is recomputed in backward, gradients unchanged, and inference never pays for it."""

from __future__ import annotations

import pytest
import torch

from sigmascene.model.forward import sigma_forward
from sigmascene.model.layout import make_layout, sequence_ids
from sigmascene.testing.tiny_pipeline import make_tiny_components


@pytest.fixture()
def transformer():
    return make_tiny_components(0)["transformer"]


def _inputs():
    g = torch.Generator().manual_seed(0)
    layout = make_layout(7, (64, 48), (96, 32))
    ids = sequence_ids(layout)
    return dict(hidden_states=torch.randn(1, layout.n_x, 16, generator=g),
                cond_tokens=torch.randn(1, layout.n_cond, 16, generator=g),
                encoder_hidden_states=torch.randn(1, 7, 32, generator=g),
                pooled_projections=torch.randn(1, 32, generator=g),
                timestep=torch.tensor([0.6]), guidance=torch.full((1,), 2.5),
                txt_ids=ids["txt"], x_ids=ids["x"], cond_ids=ids["cond"], condition_mask=True)


def _loss_and_grads(transformer, **kw):
    transformer.zero_grad(set_to_none=True)
    out = sigma_forward(transformer, **_inputs(), **kw)
    out.square().mean().backward()
    return out.detach(), {n: p.grad.clone() for n, p in transformer.named_parameters() if p.grad is not None}


def _count_checkpointed_blocks(transformer) -> list[int]:
    calls = []
    inner = transformer._gradient_checkpointing_func

    def counting(fn, *args):
        calls.append(1)
        return inner(fn, *args)

    transformer._gradient_checkpointing_func = counting
    return calls


def test_checkpointing_recomputes_every_block_with_the_same_output_and_gradients(transformer):
    plain_out, plain_grads = _loss_and_grads(transformer)
    transformer.enable_gradient_checkpointing()
    calls = _count_checkpointed_blocks(transformer)
    ckpt_out, ckpt_grads = _loss_and_grads(transformer)
    n_blocks = len(transformer.transformer_blocks) + len(transformer.single_transformer_blocks)
    assert len(calls) == n_blocks
    torch.testing.assert_close(ckpt_out, plain_out)
    assert plain_grads.keys() == ckpt_grads.keys() and plain_grads
    for name in plain_grads:
        torch.testing.assert_close(ckpt_grads[name], plain_grads[name], rtol=1e-5, atol=1e-6)


def test_inference_and_an_explicit_false_skip_checkpointing(transformer):
    transformer.enable_gradient_checkpointing()
    calls = _count_checkpointed_blocks(transformer)
    with torch.no_grad():
        sigma_forward(transformer, **_inputs())
    _loss_and_grads(transformer, gradient_checkpointing=False)
    assert calls == []


def test_the_argument_turns_checkpointing_on_without_the_flag(transformer):
    assert not transformer.gradient_checkpointing
    plain_out, plain_grads = _loss_and_grads(transformer)
    out, grads = _loss_and_grads(transformer, gradient_checkpointing=True)
    torch.testing.assert_close(out, plain_out)
    for name in plain_grads:
        torch.testing.assert_close(grads[name], plain_grads[name], rtol=1e-5, atol=1e-6)


def test_checkpointing_keeps_a_users_attention_mask(transformer):
    layout = make_layout(7, (64, 48), (96, 32))
    m = (torch.rand(layout.total, layout.total, generator=torch.Generator().manual_seed(5)) > 0.3)
    m |= torch.eye(layout.total, dtype=torch.bool)
    plain_out, plain_grads = _loss_and_grads(transformer, attention_mask=m)
    unmasked_out, _ = _loss_and_grads(transformer)
    transformer.enable_gradient_checkpointing()
    ckpt_out, ckpt_grads = _loss_and_grads(transformer, attention_mask=m)
    assert not torch.allclose(plain_out, unmasked_out, atol=1e-4)
    torch.testing.assert_close(ckpt_out, plain_out)
    for name in plain_grads:
        torch.testing.assert_close(ckpt_grads[name], plain_grads[name], rtol=1e-5, atol=1e-6)
