"""BFL (Flux Control), fal-Kontext and kohya single-block LoRAs load in SigmaPipeline exactly as in stock diffusers.

diffusers' converters for these formats hard-code the full Flux transformer: 19 double and 38 single blocks, width
3072 and MLP width 12288 (they split a fused `linear1` by those sizes). The tiny test model has neither, so these
tests use a transformer at Flux's real width but one block of each kind (tests/model/fullwidth.py), and files written
for the full model, block by block in each tool's naming. The blocks this base lacks are what a user sees when a
full-size LoRA meets a smaller base: a visible LoraKeysWarning (stock diffusers only logs it).
"""

from __future__ import annotations

import copy
import gc
import warnings

import pytest
import torch
from diffusers import FluxKontextPipeline
from safetensors.torch import save_file

from sigmascene.errors import ModelError
from sigmascene.model.adapters import LoraKeysWarning
from sigmascene.model.pipeline import SigmaPipeline
from sigmascene.testing.tiny_pipeline import make_tiny_components

from fullwidth import DOUBLE, EMBEDDERS, transformer_out, wide_transformer

pytestmark = pytest.mark.slow

FULL_DOUBLE, FULL_SINGLE = 19, 38  # the block counts the converters expect in a file
R = 2  # even: diffusers' BFL converter swaps the halves of final_layer.adaLN_modulation's lora_A too


@pytest.fixture(scope="module")
def wide():
    tr = wide_transformer()
    yield tr
    del tr
    gc.collect()


def _io(tr, name):
    m = tr.get_submodule(name)
    return m.in_features, m.out_features


def bfl_shapes(tr):
    """BFL module name (with `{i}` for the block) -> (in, out) features, taken from the base's block 0."""
    s = {f"double_blocks.{{i}}.{b}": _io(tr, f"transformer_blocks.0.{d}") for b, d in DOUBLE.items()}
    q_in, q_out = _io(tr, "transformer_blocks.0.attn.to_q")
    s["double_blocks.{i}.img_attn.qkv"] = (q_in, 3 * q_out)
    s["double_blocks.{i}.txt_attn.qkv"] = (_io(tr, "transformer_blocks.0.attn.add_q_proj")[0], 3 * q_out)
    s["single_blocks.{i}.modulation.lin"] = _io(tr, "single_transformer_blocks.0.norm.linear")
    mlp = _io(tr, "single_transformer_blocks.0.proj_mlp")[1]
    s["single_blocks.{i}.linear1"] = (q_in, 3 * q_out + mlp)
    s["single_blocks.{i}.linear2"] = _io(tr, "single_transformer_blocks.0.proj_out")
    return s


class Tensors(dict):
    """A LoRA file's tensors, drawn from one seeded generator (down-projections ~ 1/sqrt(fan-in), ups small)."""

    def __init__(self, seed=1):
        super().__init__()
        self.g = torch.Generator().manual_seed(seed)

    def rnd(self, *shape, scale):
        return torch.randn(*shape, generator=self.g) * scale

    def lora(self, name, fan_in, fan_out, down="lora_A.weight", up="lora_B.weight", rank=R):
        self[f"{name}.{down}"] = self.rnd(rank, fan_in, scale=fan_in ** -0.5)
        self[f"{name}.{up}"] = self.rnd(fan_out, rank, scale=0.05)

    def save(self, path):
        save_file({k: v.contiguous() for k, v in self.items()}, str(path))
        return path


def bfl_file(tr, path, *, prefix="", control=True, img_in=None):
    """A full-size LoRA in BFL's naming. `control`: a Flux Control LoRA (embedders, final adaLN and the QK-norm
    scales too, as BFL's Canny/Depth LoRAs ship); without it, fal's Kontext trainer layout (`base_model.model.`)."""
    t = Tensors()
    for pattern, (fan_in, fan_out) in bfl_shapes(tr).items():
        for i in range(FULL_DOUBLE if pattern.startswith("double") else FULL_SINGLE):
            t.lora(prefix + pattern.format(i=i), fan_in, fan_out)
    t.lora(prefix + "final_layer.linear", *_io(tr, "proj_out"))
    if control:
        head_dim = tr.config.attention_head_dim
        for bfl, ours in {**EMBEDDERS, "final_layer.adaLN_modulation.1": "norm_out.linear"}.items():
            t.lora(bfl, *_io(tr, ours))
        fan_in, fan_out = _io(tr, "x_embedder")
        t.lora("img_in", img_in or fan_in, fan_out)
        norms = [f"double_blocks.{i}.{side}_attn.norm" for i in range(FULL_DOUBLE) for side in ("img", "txt")]
        norms += [f"single_blocks.{i}.norm" for i in range(FULL_SINGLE)]
        for n in norms:
            for which in ("query_norm", "key_norm"):
                t[f"{n}.{which}.scale"] = 1 + t.rnd(head_dim, scale=0.1)
    return t.save(path)


def kohya_file(tr, path, *, split_qkv=False):
    """sd-scripts' naming with a fused single-block `linear1` (split by diffusers at 3072/3072/3072/12288). With
    `split_qkv`, its block-diagonal form (rank 4 = one rank per part, the up-projection zero off the diagonal)."""
    t = Tensors(seed=2)
    shapes = bfl_shapes(tr)
    for mod in ("double_blocks.{i}.img_attn.qkv", "double_blocks.{i}.img_mod.lin", "single_blocks.{i}.linear1",
                "single_blocks.{i}.linear2", "single_blocks.{i}.modulation.lin"):
        name = "lora_unet_" + mod.format(i=0).replace(".", "_")
        t.lora(name, *shapes[mod], down="lora_down.weight", up="lora_up.weight")
        t[f"{name}.alpha"] = torch.tensor(4.0)
    if split_qkv:
        name = "lora_unet_single_blocks_0_linear1"
        fan_in, fan_out = shapes["single_blocks.{i}.linear1"]
        t.lora(name, fan_in, fan_out, down="lora_down.weight", up="lora_up.weight", rank=4)
        dims, up, row = (3072, 3072, 3072, 12288), t[f"{name}.lora_up.weight"], 0
        for part, d in enumerate(dims):
            keep = up[row:row + d, part].clone()
            up[row:row + d] = 0
            up[row:row + d, part] = keep
            row += d
    return t.save(path)


def stock_output(base, path):
    """Transformer output of stock FluxKontextPipeline after `load_lora_weights(path)` (its copy is freed)."""
    comps = make_tiny_components(0)
    comps["transformer"] = copy.deepcopy(base)
    stock = FluxKontextPipeline(**comps, image_encoder=None, feature_extractor=None)
    stock.load_lora_weights(str(path))
    out = transformer_out(stock.transformer)
    del stock, comps
    gc.collect()
    return out


def sigma_pipeline(base):
    comps = make_tiny_components(0)
    comps["transformer"] = copy.deepcopy(base)
    return SigmaPipeline(**comps)


def load_ours(pipe, path, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = pipe.load_lora_weights(path, **kw)
    return info, [str(w.message) for w in caught if issubclass(w.category, LoraKeysWarning)]


FORMATS = {
    "bfl_control": lambda tr, d: bfl_file(tr, d / "bfl.safetensors"),
    "fal_kontext": lambda tr, d: bfl_file(tr, d / "fal.safetensors", prefix="base_model.model.", control=False),
    "kohya_linear1": lambda tr, d: kohya_file(tr, d / "kohya.safetensors"),
    "kohya_linear1_split_qkv": lambda tr, d: kohya_file(tr, d / "kohya_split.safetensors", split_qkv=True),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_full_size_lora_formats_load_exactly_as_stock_diffusers(fmt, wide, tmp_path):
    path = FORMATS[fmt](wide, tmp_path)
    expected = stock_output(wide, path)
    ours = sigma_pipeline(wide)
    bare = transformer_out(ours.transformer)
    info, warned = load_ours(ours, path)
    got = transformer_out(ours.transformer)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(got, bare, atol=1e-4)  # the LoRA did something
    assert info.sigma is False and not info.condition_mask
    if fmt.startswith("kohya"):
        assert warned == [] and info.warnings == []
    else:  # written for 19 + 38 blocks, loaded into 1 + 1: said out loud, not only logged
        assert len(warned) == 1 and "match nothing in this base" in warned[0]
        assert "transformer_blocks.1." in warned[0] or "single_transformer_blocks.1." in warned[0]
    if fmt == "bfl_control":  # the QK-norm scales go into the transformer itself, as in diffusers
        assert "norm tensors match nothing" in warned[0]
        assert not torch.equal(ours.transformer.transformer_blocks[0].attn.norm_q.weight,
                               wide.transformer_blocks[0].attn.norm_q.weight)


def test_a_control_lora_that_widens_the_input_loads_like_stock_but_refuses_to_render(wide, tmp_path):
    path = bfl_file(wide, tmp_path / "canny.safetensors", img_in=2 * wide.config.in_channels)
    expected = stock_output(wide, path)
    ours = sigma_pipeline(wide)
    bare = transformer_out(ours.transformer)
    load_ours(ours, path)
    assert ours.transformer.config.in_channels == 2 * wide.config.in_channels
    torch.testing.assert_close(transformer_out(ours.transformer), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ModelError, match="Flux Control LoRA") as err:
        ours(prompt="a room", control_image=torch.zeros(16, 16, 3, dtype=torch.uint8).numpy(),
             identity_image=torch.zeros(16, 16, 3, dtype=torch.uint8).numpy(), num_inference_steps=1)
    assert "reset_to_overwritten_params" in str(err.value)  # the hint
    ours.unload_lora_weights(reset_to_overwritten_params=True)  # diffusers' way back
    assert ours.transformer.config.in_channels == wide.config.in_channels
    assert ours.lora_infos == {}
    torch.testing.assert_close(transformer_out(ours.transformer), bare, atol=1e-6, rtol=1e-6)


def test_a_refused_control_lora_leaves_the_transformer_exactly_as_it_was(wide, tmp_path):
    """strict=True refuses a LoRA whose layers the base lacks — after diffusers has already widened x_embedder
    and written the norm scales in place; every one of those changes must be undone."""
    path = bfl_file(wide, tmp_path / "canny.safetensors", img_in=2 * wide.config.in_channels)
    ours = sigma_pipeline(wide)
    before = {k: v.clone() for k, v in ours.transformer.state_dict().items()}
    bare = transformer_out(ours.transformer)
    with pytest.raises(ModelError, match="match nothing in this base"):
        ours.load_lora_weights(path, strict=True)
    tr = ours.transformer
    assert tr.config.in_channels == wide.config.in_channels and tr.x_embedder.in_features == wide.config.in_channels
    assert not getattr(tr, "peft_config", None) and ours.lora_infos == {}
    assert getattr(tr, "_overwritten_params", None) is None and not getattr(tr, "_transformer_norm_layers", None)
    after = tr.state_dict()
    assert set(after) == set(before)
    assert all(torch.equal(after[k], v) for k, v in before.items())
    torch.testing.assert_close(transformer_out(tr), bare, atol=0, rtol=0)
