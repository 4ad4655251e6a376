"""SIGMA LoRA files: diffusers' format plus our metadata, saved and loaded without losing anything."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sigmascene.errors import SigmaError
from sigmascene.model.lora import (
    DIFFUSERS_METADATA_KEY, SIGMA_METADATA_KEY, add_sigma_lora, load_sigma_lora, lora_state_dict, read_sigma_lora,
    save_sigma_lora,
)
from sigmascene.testing.tiny_pipeline import make_tiny_components


def trained_transformer(rank=4, seed=0):
    tr = make_tiny_components(0)["transformer"]
    add_sigma_lora(tr, rank=rank, alpha=2 * rank)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in tr.named_parameters():
            if "lora_B" in name:  # a fresh LoRA is a no-op (B = 0); pretend it was trained
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return tr


def predict(tr):
    g = torch.Generator().manual_seed(1)
    kw = dict(hidden_states=torch.randn(1, 6, 16, generator=g),
              encoder_hidden_states=torch.randn(1, 3, 32, generator=g),
              pooled_projections=torch.randn(1, 32, generator=g), timestep=torch.tensor([0.5]),
              img_ids=torch.zeros(6, 3), txt_ids=torch.zeros(3, 3), guidance=torch.tensor([2.5]), return_dict=False)
    with torch.no_grad():
        return tr(**kw)[0]


@pytest.mark.slow
def test_save_then_load_reproduces_the_adapted_model(tmp_path):
    tr = trained_transformer()
    path = save_sigma_lora(tmp_path / "sigma.safetensors", tr, rank=4, alpha=8, condition_mask=True,
                           config_hash="cafe01")
    fresh = make_tiny_components(0)["transformer"]
    base = predict(fresh)
    info = load_sigma_lora(fresh, path)
    assert (info.rank, info.alpha, info.condition_mask, info.config_hash, info.sigma) == (4, 8.0, True, "cafe01", True)
    torch.testing.assert_close(predict(fresh), predict(tr))
    assert not torch.allclose(predict(fresh), base)


def test_file_is_diffusers_format_with_both_metadata_blocks(tmp_path):
    path = save_sigma_lora(tmp_path / "l.safetensors", trained_transformer(), rank=4, alpha=8, condition_mask=False,
                           config_hash="h")
    with safe_open(str(path), "pt") as f:
        keys, meta = list(f.keys()), f.metadata()
    assert keys and all(k.startswith("transformer.") and (".lora_A." in k or ".lora_B." in k) for k in keys)
    ours = json.loads(meta[SIGMA_METADATA_KEY])
    assert ours["condition_mask"] is False and ours["rank"] == 4 and ours["config_hash"] == "h"
    assert json.loads(meta[DIFFUSERS_METADATA_KEY])["transformer.r"] == 4


def test_diffusers_own_loader_reads_our_file(tmp_path):
    tr = trained_transformer()
    path = save_sigma_lora(tmp_path / "l.safetensors", tr, rank=4, alpha=8, condition_mask=True, config_hash="h")
    fresh = make_tiny_components(0)["transformer"]
    # diffusers reads the adapter metadata (our alpha) only when told the file is safetensors
    fresh.load_lora_adapter(str(path), prefix="transformer", adapter_name="x", use_safetensors=True)
    torch.testing.assert_close(predict(fresh), predict(tr))


def test_state_dict_input_round_trips(tmp_path):
    sd = lora_state_dict(trained_transformer())
    path = save_sigma_lora(tmp_path / "l.safetensors", {k.removeprefix("transformer."): v for k, v in sd.items()},
                           rank=4, alpha=4, condition_mask=True, config_hash="x")
    back, info = read_sigma_lora(path)
    assert set(back) == set(sd) and info.rank == 4
    for k in sd:
        assert torch.equal(back[k], sd[k])


def test_a_lora_without_our_metadata_loads_but_vouches_for_no_mask(tmp_path):
    sd = lora_state_dict(trained_transformer())
    path = tmp_path / "foreign.safetensors"
    save_file(sd, str(path))
    _, info = read_sigma_lora(path)
    assert info.sigma is False and info.condition_mask is False and info.rank == 4


def test_metadata_that_contradicts_the_weights_is_refused(tmp_path):
    sd = lora_state_dict(trained_transformer())
    path = tmp_path / "bad.safetensors"
    meta = {SIGMA_METADATA_KEY: json.dumps({"rank": 16, "alpha": 16, "condition_mask": True, "config_hash": "h"})}
    save_file(sd, str(path), metadata=meta)
    with pytest.raises(SigmaError, match="rank 16"):
        read_sigma_lora(path)


def test_save_refuses_a_wrong_declared_rank(tmp_path):
    with pytest.raises(SigmaError, match="declared rank 8"):
        save_sigma_lora(tmp_path / "l.safetensors", trained_transformer(), rank=8, alpha=8, condition_mask=True,
                        config_hash="h")


@pytest.mark.parametrize("content", [None, b"not a safetensors file"])
def test_missing_or_broken_files_are_user_errors(tmp_path, content):
    path = tmp_path / "x.safetensors"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SigmaError) as err:
        read_sigma_lora(path)
    assert ("does not exist" if content is None else "not a readable safetensors") in str(err.value)
