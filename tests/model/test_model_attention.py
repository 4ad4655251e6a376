"""The SIGMA forward: conditions at timestep 0, the condition mask, and the K/V cache that the mask allows."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sigmascene.errors import SigmaError
from sigmascene.model.attention import attend, condition_attention_mask
from sigmascene.model.forward import build_condition_cache, sigma_forward
from sigmascene.model.layout import TokenLayout, make_layout, sequence_ids
from sigmascene.testing.tiny_pipeline import make_tiny_components


@pytest.fixture(scope="module")
def transformer():
    return make_tiny_components(0)["transformer"]


@pytest.fixture(scope="module")
def inputs():
    g = torch.Generator().manual_seed(0)
    layout = make_layout(7, (64, 48), (96, 32))
    b = 2
    return {
        "layout": layout, "ids": sequence_ids(layout),
        "x": torch.randn(b, layout.n_x, 16, generator=g), "cond": torch.randn(1, layout.n_cond, 16, generator=g),
        "txt": torch.randn(b, 7, 32, generator=g), "pooled": torch.randn(b, 32, generator=g),
        "t": torch.tensor([0.8, 0.35]), "guidance": torch.full((b,), 2.5),
    }


def run(transformer, inp, *, x=None, cond="given", mask=False, cache=None, cond_t=None, t=None, attention_mask=None):
    ids = inp["ids"]
    with torch.no_grad():
        return sigma_forward(
            transformer, hidden_states=inp["x"] if x is None else x,
            cond_tokens=None if cache is not None else inp["cond"], encoder_hidden_states=inp["txt"],
            pooled_projections=inp["pooled"], timestep=inp["t"] if t is None else t, guidance=inp["guidance"],
            txt_ids=ids["txt"], x_ids=ids["x"], cond_ids=ids["cond"], condition_mask=mask, cache=cache,
            cond_timestep=cond_t, attention_mask=attention_mask)


def cache_for(transformer, inp):
    with torch.no_grad():
        return build_condition_cache(transformer, cond_tokens=inp["cond"], cond_ids=inp["ids"]["cond"],
                                     pooled_projections=inp["pooled"], guidance=inp["guidance"])


def diffusers_forward(transformer, inputs, **kw):
    """Stock `FluxTransformer2DModel.forward` on [X, conditions], X's part of the prediction."""
    ids = inputs["ids"]
    with torch.no_grad():
        ref = transformer(
            hidden_states=torch.cat([inputs["x"], inputs["cond"].expand(2, -1, -1)], dim=1),
            encoder_hidden_states=inputs["txt"], pooled_projections=inputs["pooled"], timestep=inputs["t"],
            img_ids=ids["img"], txt_ids=ids["txt"], guidance=inputs["guidance"], return_dict=False, **kw)[0]
    return ref[:, : inputs["layout"].n_x]


def random_masks(layout, seed=0):
    """A random boolean mask (each row keeps its diagonal, so no row is empty) and a random additive float one."""
    g = torch.Generator().manual_seed(seed)
    s = layout.total
    boolean = (torch.rand(s, s, generator=g) > 0.4) | torch.eye(s, dtype=torch.bool)
    additive = torch.randn(2, 1, s, s, generator=g)  # per batch item, broadcast over heads
    return boolean, additive


def test_forward_equals_diffusers_flux_when_conditions_share_the_timestep(transformer, inputs):
    ours = run(transformer, inputs, cond_t=inputs["t"])
    torch.testing.assert_close(ours, diffusers_forward(transformer, inputs), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["bool", "additive"])
def test_an_attention_mask_means_what_it_means_to_diffusers_flux(transformer, inputs, kind):
    boolean, additive = random_masks(inputs["layout"])
    m = boolean if kind == "bool" else additive
    ours = run(transformer, inputs, cond_t=inputs["t"], attention_mask=m)
    ref = diffusers_forward(transformer, inputs, joint_attention_kwargs={"attention_mask": m})
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(ours, run(transformer, inputs, cond_t=inputs["t"]), atol=1e-4)  # the mask mattered


def test_a_user_mask_is_anded_with_the_condition_mask(transformer, inputs):
    layout = inputs["layout"]
    boolean, additive = random_masks(layout, seed=1)
    cond = condition_attention_mask(layout)
    torch.testing.assert_close(run(transformer, inputs, mask=True, attention_mask=boolean),
                               run(transformer, inputs, mask=False, attention_mask=cond & boolean),
                               rtol=1e-5, atol=1e-5)
    forbidden = torch.zeros(layout.total, layout.total).masked_fill(~cond, float("-inf"))
    torch.testing.assert_close(run(transformer, inputs, mask=True, attention_mask=additive),
                               run(transformer, inputs, mask=False, attention_mask=additive + forbidden),
                               rtol=1e-5, atol=1e-5)


def test_an_all_true_mask_changes_nothing_masked_or_not(transformer, inputs):
    everything = torch.ones(inputs["layout"].total, inputs["layout"].total, dtype=torch.bool)
    for mask in (False, True):
        torch.testing.assert_close(run(transformer, inputs, mask=mask, attention_mask=everything),
                                   run(transformer, inputs, mask=mask), rtol=1e-5, atol=1e-5)


def test_a_mask_of_the_wrong_size_names_the_sequence_it_must_cover(transformer, inputs):
    layout = inputs["layout"]
    s = layout.total
    with pytest.raises(SigmaError, match=rf"S = {s} = P 7 \+ X {layout.n_x} \+ conditions {layout.n_cond}"):
        run(transformer, inputs, attention_mask=torch.ones(s - 1, s - 1, dtype=torch.bool))
    with pytest.raises(SigmaError, match="bool .* or an additive float mask"):
        run(transformer, inputs, attention_mask=torch.ones(s, s, dtype=torch.int64))
    with pytest.raises(SigmaError, match=r"has shape \(3, 1, \d+, \d+\)"):
        run(transformer, inputs, attention_mask=torch.ones(3, 1, s, s, dtype=torch.bool))  # batch is 2


def test_a_mask_is_refused_with_a_filled_condition_cache(transformer, inputs):
    cache = cache_for(transformer, inputs)
    everything = torch.ones(inputs["layout"].total, inputs["layout"].total, dtype=torch.bool)
    with pytest.raises(SigmaError, match="without cache_conditions"):
        run(transformer, inputs, mask=True, cache=cache, attention_mask=everything)


def test_only_x_is_predicted_whatever_the_number_of_conditions(transformer, inputs):
    out = run(transformer, inputs)
    assert out.shape == inputs["x"].shape
    more = dict(inputs, cond=torch.cat([inputs["cond"], inputs["cond"][:, :5]], dim=1),
                ids=dict(inputs["ids"], cond=torch.cat([inputs["ids"]["cond"], inputs["ids"]["cond"][:5]])))
    assert run(transformer, more).shape == inputs["x"].shape


def test_conditions_get_their_own_timestep(transformer, inputs):
    at_zero = run(transformer, inputs)
    at_t = run(transformer, inputs, cond_t=inputs["t"])
    assert not torch.allclose(at_zero, at_t, atol=1e-6)


def test_conditions_influence_x(transformer, inputs):
    other = dict(inputs, cond=inputs["cond"] * -1.0)
    assert not torch.allclose(run(transformer, inputs, mask=True), run(transformer, other, mask=True), atol=1e-6)


def test_the_mask_changes_what_conditions_compute(transformer, inputs):
    assert not torch.allclose(run(transformer, inputs, mask=True), run(transformer, inputs, mask=False), atol=1e-6)


def test_cache_gives_the_same_prediction_as_the_masked_model(transformer, inputs):
    cache = cache_for(transformer, inputs)
    assert len(cache) == 2 and cache.nbytes() > 0  # one dual + one single block
    # reused across steps: different timesteps and different X, one cache
    for t in (torch.tensor([0.9, 0.9]), torch.tensor([0.4, 0.1])):
        x = torch.randn_like(inputs["x"])
        torch.testing.assert_close(run(transformer, inputs, x=x, t=t, mask=True, cache=cache),
                                   run(transformer, inputs, x=x, t=t, mask=True), rtol=1e-5, atol=1e-5)


def test_masked_conditions_never_see_x(transformer, inputs):
    """What the cache relies on: condition keys/values are the same whatever X and t are."""
    import sigmascene.model.attention as attention

    seen = []
    original = attention.attend

    def spy(q, k, v, **kw):
        seen.append(k[:, :, kw["n_main"]:].clone())
        return original(q, k, v, **kw)

    attention.attend = spy
    try:
        run(transformer, inputs, mask=True)
        first = list(seen)
        seen.clear()
        run(transformer, inputs, x=torch.randn_like(inputs["x"]), t=torch.tensor([0.1, 0.6]), mask=True)
    finally:
        attention.attend = original
    for a, b in zip(first, seen):
        torch.testing.assert_close(a, b)


def test_cache_refuses_to_be_used_while_filling(transformer, inputs):
    from sigmascene.model.attention import ConditionCache

    with pytest.raises(ValueError, match="still being filled"):
        run(transformer, inputs, mask=True, cache=ConditionCache())


@settings(max_examples=20, deadline=None)
@given(n_txt=st.integers(1, 4), rows=st.integers(1, 3), s_rows=st.integers(1, 3), heads=st.integers(1, 3))
def test_split_attention_equals_one_call_with_the_boolean_mask(n_txt, rows, s_rows, heads):
    layout = TokenLayout(n_txt=n_txt, x_grid=(rows, 2), s_grid=(s_rows, 2))
    g = torch.Generator().manual_seed(n_txt * 100 + rows * 10 + s_rows)
    q, k, v = (torch.randn(2, heads, layout.total, 8, generator=g) for _ in range(3))
    mask = condition_attention_mask(layout)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    ours = attend(q, k, v, n_main=n_txt + layout.n_x, condition_mask=True)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    assert mask[:n_txt + layout.n_x].all() and not mask[n_txt + layout.n_x:, : n_txt + layout.n_x].any()
