"""Latent and prompt caches: hits return exactly what encoding gives, keys follow content and encoder weights."""

import numpy as np
import pytest
import torch

from sigmascene.model.layout import encode_conditions
from sigmascene.model.pipeline import SigmaPipeline
from sigmascene.testing.tiny_pipeline import make_tiny_components
from sigmascene.train.cache import LatentEncoder, PromptEncoder, TensorCache, encode_example, fingerprint
from sigmascene.train.samples import Example


@pytest.fixture(scope="module")
def parts():
    return make_tiny_components(0)


def _example(seed=0):
    rng = np.random.default_rng(seed)
    return Example(index=0, sample_id="s", structure="box2d", prompt_mode="background",
                   prompt="Place these subjects in a room", target=rng.integers(0, 255, (64, 48, 3), dtype=np.uint8),
                   control=(rng.integers(0, 3, (64, 48, 3)) * 10).astype(np.uint8),
                   identity=rng.integers(0, 255, (96, 32, 3), dtype=np.uint8), n_subjects=3)


def test_cached_condition_tokens_equal_inference_encoding(tmp_path, parts):
    ex = _example()
    pipe = SigmaPipeline(**parts)
    batch = encode_example(ex, LatentEncoder(parts["vae"], tmp_path),
                           PromptEncoder(pipe, tmp_path, max_sequence_length=64), device="cpu", dtype=torch.float32)
    ref, canvas, ident = encode_conditions(parts["vae"], ex.control, ex.identity, canvas_hw=(64, 48))
    assert torch.allclose(batch.cond, ref, atol=1e-6)
    assert batch.x0.shape == (1, 4 * 3, 16) and batch.n_tokens == 12
    embeds, pooled = pipe.encode_prompt(ex.prompt, device="cpu", max_sequence_length=64)
    assert torch.allclose(batch.embeds, embeds, atol=1e-5) and torch.allclose(batch.pooled, pooled, atol=1e-5)
    assert batch.ids["x"].shape == (12, 3) and batch.ids["cond"].shape == (ref.shape[1], 3)


def test_second_encoding_is_a_disk_hit_with_identical_values(tmp_path, parts):
    ex = _example()
    a = LatentEncoder(parts["vae"], tmp_path)
    first = a.encode(ex.target, (64, 48))
    b = LatentEncoder(parts["vae"], tmp_path)  # a new process would start like this
    second = b.encode(ex.target, (64, 48))
    assert (a.cache.misses, b.cache.hits) == (1, 1) and torch.equal(first, second)
    b.encode(ex.control, (64, 48), nearest=True)
    b.encode(ex.target, (32, 32))  # another size is another key
    assert b.cache.misses == 2


def test_keys_change_with_the_encoder_weights(tmp_path, parts):
    other = make_tiny_components(1)["vae"]
    assert fingerprint(parts["vae"]) == fingerprint(make_tiny_components(0)["vae"])
    assert fingerprint(parts["vae"]) != fingerprint(other)
    ex = _example()
    LatentEncoder(parts["vae"], tmp_path).encode(ex.target, (64, 48))
    enc = LatentEncoder(other, tmp_path)
    enc.encode(ex.target, (64, 48))
    assert enc.cache.hits == 0


def test_prompts_cached_up_front_survive_freeing_the_text_encoders(tmp_path, parts):
    pipe = SigmaPipeline(**make_tiny_components(0))
    enc = PromptEncoder(pipe, tmp_path, max_sequence_length=64)
    assert enc.ensure_cached(["a", "b", "a"], device="cpu") == 2
    with torch.no_grad():
        expect = pipe.encode_prompt("b", device="cpu", max_sequence_length=64)
    pipe.register_modules(text_encoder=None, text_encoder_2=None)
    enc.recent.clear()
    embeds, pooled = enc("b")  # from disk now
    assert enc.cache.hits == 1
    assert torch.equal(embeds, expect[0]) and torch.equal(pooled, expect[1])
    with pytest.raises(RuntimeError, match="text encoders were freed"):
        enc("never cached")


def test_a_torn_cache_entry_is_a_miss_not_a_crash(tmp_path):
    cache = TensorCache(tmp_path)
    cache.put("ab" * 32, {"t": torch.ones(3)})
    path = cache._path("ab" * 32)
    path.write_bytes(path.read_bytes()[:10])
    assert cache.get("ab" * 32) is None


def test_a_full_disk_during_a_cache_write_is_one_clean_error_and_leaves_no_part_file(tmp_path, monkeypatch):
    import safetensors.torch
    from safetensors import SafetensorError

    from sigmascene.errors import SigmaError

    def full(*a, **k):
        raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    cache = TensorCache(tmp_path)
    with pytest.raises(SigmaError, match=r"cannot write .*\.safetensors: Error while serializing"):
        cache.put("cd" * 32, {"t": torch.ones(3)})
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
