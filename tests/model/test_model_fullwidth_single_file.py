"""`--transformer FILE` in the layouts real checkpoints ship: BFL's own, ComfyUI's (`model.diffusion_model.`), and
a GGUF in BFL's layout (how quantized Kontext files are published).

diffusers' BFL-layout conversion splits the fused qkv / linear1 at Flux's real width, so these tests use the
full-width, one-block-each transformer of tests/model/fullwidth.py (the diffusers-layout file and GGUF are tested on the
tiny model in test_model_single_file.py). Each file is ~2 GB and removed when its test ends.
"""

from __future__ import annotations

import gc

import pytest
import torch
from safetensors.torch import save_file

from sigmascene.model.single_file import load_transformer

from fullwidth import bfl_checkpoint, transformer_out, wide_transformer
from test_model_single_file import write_gguf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """The model, its output, and a base folder holding only its transformer/config.json (all --transformer
    reads from --base)."""
    tr = wide_transformer()
    base = tmp_path_factory.mktemp("wide") / "base"
    tr.save_config(base / "transformer")
    yield tr, transformer_out(tr), base
    del tr
    gc.collect()


@pytest.mark.parametrize("prefix", ["", "model.diffusion_model."], ids=["bfl", "comfyui"])
def test_a_bfl_layout_single_file_loads_as_the_same_transformer(wide, prefix, tmp_path):
    tr, ref, base = wide
    path = tmp_path / "flux1-kontext-dev.safetensors"
    save_file({k: v.contiguous() for k, v in bfl_checkpoint(tr, prefix).items()}, str(path))
    try:
        loaded = load_transformer(path, base, torch.float32)
        torch.testing.assert_close(transformer_out(loaded), ref, atol=1e-5, rtol=1e-5)
        # the fused qkv was split back, not loaded whole or dropped
        torch.testing.assert_close(loaded.transformer_blocks[0].attn.to_k.weight,
                                   tr.transformer_blocks[0].attn.to_k.weight)
    finally:
        path.unlink(missing_ok=True)


def test_a_bfl_layout_gguf_stays_quantized_and_computes_close(wide, tmp_path):
    from diffusers.quantizers.gguf.utils import GGUFParameter

    tr, ref, base = wide
    path = write_gguf(tmp_path / "flux1-kontext-dev-Q8_0.gguf", bfl_checkpoint(tr))
    try:
        loaded = load_transformer(path, base, torch.float32)
        for w in (loaded.single_transformer_blocks[0].attn.to_q.weight,
                  loaded.single_transformer_blocks[0].proj_mlp.weight,
                  loaded.transformer_blocks[0].attn.add_v_proj.weight):
            assert isinstance(w, GGUFParameter) and w.quant_type.name == "Q8_0"  # split, and still quantized
        out = transformer_out(loaded)
        assert torch.isfinite(out).all() and not torch.equal(out, ref)
        assert (out - ref).abs().mean() < 0.01 * ref.abs().mean()  # 8-bit blocks: close, not equal
    finally:
        path.unlink(missing_ok=True)
