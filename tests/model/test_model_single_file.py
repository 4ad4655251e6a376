"""`--transformer FILE`: a single-file (.safetensors) or GGUF Kontext transformer with the base's other parts.

The GGUF file is written here with the `gguf` package (Q8_0 for every matrix whose rows split into 32-wide
blocks, F32 for the rest) and read back by diffusers' `from_single_file` + `GGUFQuantizationConfig`.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.errors import SigmaError
from sigmascene.model.loading import load_pipeline
from sigmascene.testing.tiny_pipeline import make_tiny_pipeline, save_tiny_sigma_lora

from test_model_pipeline import call, write_scene


def write_gguf(path, state_dict, qtype_name="Q8_0"):
    import gguf

    qtype = getattr(gguf.GGMLQuantizationType, qtype_name)
    writer = gguf.GGUFWriter(str(path), arch="flux")
    for k, v in state_dict.items():
        arr = v.float().numpy()
        if arr.ndim == 2 and arr.shape[-1] % 32 == 0:
            writer.add_tensor(k, gguf.quants.quantize(arr, qtype), raw_dtype=qtype)
        else:
            writer.add_tensor(k, arr.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("single")
    pipe = make_tiny_pipeline(0)
    pipe.save_pretrained(d / "base")
    sd = pipe.transformer.state_dict()
    save_file({k: v.contiguous() for k, v in sd.items()}, str(d / "transformer.safetensors"))
    write_gguf(d / "transformer-Q8_0.gguf", sd)
    return d, call(pipe, output_type="np").images


@pytest.mark.slow
def test_a_single_file_transformer_renders_like_the_base(model):
    d, ref = model
    pipe = load_pipeline(d / "base", transformer=d / "transformer.safetensors", device="cpu")
    np.testing.assert_allclose(call(pipe, output_type="np").images, ref, atol=1e-6)


def test_a_gguf_transformer_stays_quantized_and_renders_close(model):
    from diffusers.quantizers.gguf.utils import GGUFParameter

    d, ref = model
    pipe = load_pipeline(d / "base", transformer=d / "transformer-Q8_0.gguf", device="cpu")
    weight = pipe.transformer.transformer_blocks[0].attn.to_q.weight
    assert isinstance(weight, GGUFParameter) and weight.quant_type.name == "Q8_0"
    out = call(pipe, output_type="np").images
    assert np.isfinite(out).all() and not np.array_equal(out, ref)
    assert np.abs(out - ref).mean() < 0.05  # 8-bit blocks: close to the float model, not equal


def test_render_records_the_transformer_file(model, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("SIGMASCENE_BASE", raising=False)
    d, _ = model
    scene = write_scene(tmp_path / "s")
    lora = save_tiny_sigma_lora(tmp_path / "sigma.safetensors")  # SIGMA on the tiny base (B = 0: no change)
    res = CliRunner().invoke(app, ["render", str(scene), "--base", str(d / "base"), "--lora", str(lora),
                                   "--transformer", str(d / "transformer-Q8_0.gguf"), "-o", str(tmp_path / "g.png"),
                                   "--steps", "1"])
    assert res.exit_code == 0, res.output
    side = json.loads((tmp_path / "g.json").read_text())
    assert side["model"]["transformer"]["path"].endswith("transformer-Q8_0.gguf")
    assert len(side["model"]["transformer"]["sha256_head_tail"]) == 64 and "--transformer" in side["command"]
    res = CliRunner().invoke(app, ["render", str(scene), "--transformer", str(d / "transformer-Q8_0.gguf"),
                                   "-o", str(tmp_path / "h.png")])
    assert res.exit_code == 1 and "no base is given" in res.output


def test_a_transformer_file_that_does_not_fit_is_one_clean_error(model, tmp_path):
    d, _ = model
    bad = tmp_path / "other.safetensors"
    save_file({"double_blocks.0.img_attn.qkv.weight": torch.zeros(9216, 3072)}, str(bad))
    with pytest.raises(SigmaError) as err:
        load_pipeline(d / "base", transformer=bad, device="cpu")
    assert "other.safetensors" in str(err.value) and len(err.value.format().splitlines()) <= 4
    with pytest.raises(SigmaError, match="neither"):
        load_pipeline(d / "base", transformer=d / "base" / "model_index.json", device="cpu")
