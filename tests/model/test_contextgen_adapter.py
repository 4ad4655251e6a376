"""ContextGen's adapter file: recognised from its layer set, loaded through diffusers' `load_lora_weights` with
every tensor of the file applied (scale 1, as their inference), both on the stock-derived ContextGenPipeline and on
SigmaPipeline's checked loader."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open

from sigmascene.model.contextgen.adapter import contextgen_lora_facts, is_contextgen_lora
from sigmascene.model.contextgen.pipeline import ContextGenPipeline
from sigmascene.model.lora import DEFAULT_TARGET_MODULES, read_lora_info
from sigmascene.model.pipeline import SigmaPipeline
from sigmascene.testing.tiny_contextgen import make_tiny_contextgen_components, save_contextgen_adapter


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    comps = make_tiny_contextgen_components(0)
    return save_contextgen_adapter(comps["transformer"], tmp_path_factory.mktemp("cg"), rank=8)


def _file(path):
    with safe_open(str(path), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def test_the_adapter_file_has_contextgens_layout(adapter):
    sd, meta = _file(adapter)
    assert not any("alpha" in k for k in sd) and set(meta) <= {"format"}  # no alphas, no adapter metadata
    mods = {k.removeprefix("transformer.").split(".lora_")[0] for k in sd}
    assert {"x_embedder", "transformer_blocks.0.norm1.linear", "transformer_blocks.0.ff.net.2"} <= mods
    assert "single_transformer_blocks.1.norm.linear" in mods and "single_transformer_blocks.1.proj_out" in mods
    assert not any("context" in m or "add_" in m or "ff.net.0" in m for m in mods)
    assert len(mods) == 1 + 6 * 1 + 6 * 2  # x_embedder + 6 per double block + 6 per single block
    assert is_contextgen_lora(sd)
    facts = contextgen_lora_facts({k: tuple(v.shape) for k, v in sd.items()})
    assert facts == {"kind": "contextgen", "rank": 8, "layers": 19, "published_rank": False}


def test_other_loras_are_not_taken_for_contextgen():
    sigma = {f"transformer.transformer_blocks.0.{m}.lora_A.weight": (4, 8) for m in DEFAULT_TARGET_MODULES}
    assert not is_contextgen_lora(sigma)
    plain = {f"transformer.transformer_blocks.0.attn.to_{x}.lora_A.weight": (4, 8) for x in "qkv"}
    assert not is_contextgen_lora(plain)
    partial = {"transformer.x_embedder.lora_A.weight": (4, 8),
               "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": (4, 8),
               "transformer.single_transformer_blocks.0.proj_mlp.lora_A.weight": (4, 8)}
    assert not is_contextgen_lora(partial)  # a block must carry all six of its layers


def _applied(transformer, name):
    return {n: m for n, m in transformer.named_modules() if name in (getattr(m, "lora_A", None) or {})}


def _check_every_key_applied(transformer, name, sd):
    layers = _applied(transformer, name)
    mods = {k.removeprefix("transformer.").split(".lora_")[0] for k in sd}
    assert set(layers) == mods
    for mod, layer in layers.items():
        assert torch.equal(layer.lora_A[name].weight, sd[f"transformer.{mod}.lora_A.weight"])
        assert torch.equal(layer.lora_B[name].weight, sd[f"transformer.{mod}.lora_B.weight"])
        assert layer.scaling[name] == 1.0  # no alpha stored: diffusers uses alpha = r


def test_diffusers_load_lora_weights_applies_every_key_as_contextgens_load_model_does(adapter):
    pipe = ContextGenPipeline(**make_tiny_contextgen_components(0))
    pipe.load_lora_weights(str(adapter.parent), adapter_name="flux_mig", weight_name=adapter.name)
    _check_every_key_applied(pipe.transformer, "flux_mig", _file(adapter)[0])


def test_sigma_pipelines_checked_loader_takes_it_whole_under_strict(adapter):
    pipe = SigmaPipeline(**make_tiny_contextgen_components(0))
    info = pipe.load_lora_weights(str(adapter), adapter_name="cg", strict=True)
    assert info.warnings == [] and not info.sigma
    _check_every_key_applied(pipe.transformer, "cg", _file(adapter)[0])
    assert read_lora_info(adapter).rank == 8


def test_fusing_is_chosen_only_on_a_gpu_with_plain_weights_and_changes_the_output_by_rounding_only(adapter):
    import types

    from sigmascene.model.contextgen.inputs import load_reference
    from sigmascene.model.contextgen.memory import fuse_adapter, fuse_decision
    from PIL import Image

    pipe = ContextGenPipeline(**make_tiny_contextgen_components(0))
    pipe.load_lora_weights(str(adapter.parent), adapter_name="flux_mig", weight_name=adapter.name)
    assert fuse_decision(pipe)[0] is False  # CPU: ContextGen's own (unfused) structure
    on_gpu = types.SimpleNamespace(_execution_device=torch.device("cuda"), transformer=pipe.transformer)
    assert fuse_decision(on_gpu)[0] is True
    pipe.transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=torch.float32)
    assert fuse_decision(on_gpu) == (False, "kept as PEFT layers (GGUF / fp8 base weights: fusing would requantize "
                                            "them)")

    pipe = ContextGenPipeline(**make_tiny_contextgen_components(0))
    pipe.load_lora_weights(str(adapter.parent), adapter_name="flux_mig", weight_name=adapter.name)
    ref = load_reference(Image.new("RGBA", (32, 32), (9, 90, 200, 255)), [0, 0, 20, 20], base=256)
    layout = Image.new("RGBA", (32, 32), (9, 90, 200, 255))

    def run():
        return pipe("a cat", [ref], layout, height=32, width=32, num_inference_steps=1, global_seed=0,
                    generator=torch.Generator().manual_seed(0), output_type="latent").images

    unfused = run()
    fuse_adapter(pipe, "flux_mig")
    assert not getattr(pipe.transformer, "peft_config", None)  # the adapter's own tensors are freed
    fused = run()
    assert float((fused - unfused).norm() / unfused.norm()) < 1e-5
