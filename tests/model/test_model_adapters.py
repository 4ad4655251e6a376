"""The diffusers adapter API on SigmaPipeline, and what SIGMA adds: truthful LoraInfo, clean failures, one-line
errors for a LoRA made for another base size, visible key warnings, several LoRAs with weights."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.errors import ModelError, SigmaError
from sigmascene.model.adapters import LoraKeysWarning
from sigmascene.model.lora import add_sigma_lora, save_sigma_lora
from sigmascene.testing.tiny_pipeline import make_tiny_components, make_tiny_pipeline, save_tiny_pipeline

from test_model_lora_formats import raw_file, rnd, transformer_out
from test_model_pipeline import write_scene


def sigma_lora(path, *, mask, seed=1, rank=2):
    tr = make_tiny_components(0)["transformer"]
    add_sigma_lora(tr, rank=rank, alpha=rank)
    g = torch.Generator().manual_seed(seed)
    for n, p in tr.named_parameters():
        if "lora_" in n:
            p.data = torch.randn(p.shape, generator=g) * 0.3
    return save_sigma_lora(path, tr, rank=rank, alpha=rank, condition_mask=mask, config_hash=f"run{seed}")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("loras")
    return {"masked": sigma_lora(d / "masked.safetensors", mask=True),
            "style": sigma_lora(d / "style.safetensors", mask=False, seed=2)}


def test_adapter_api_names_weights_fuse_disable_unload(files):
    p = make_tiny_pipeline(0)
    bare = transformer_out(p.transformer)
    info = p.load_lora_weights(str(files["masked"].parent), weight_name=files["masked"].name, adapter_name="sigma")
    assert info.adapter_name == "sigma" and info.condition_mask and p.get_active_adapters() == ["sigma"]
    p.load_lora_weights(files["style"], adapter_name="style")
    p.set_adapters(["sigma", "style"], adapter_weights=[1.0, 0.8])
    assert p.lora_infos["style"].weight == 0.8 and set(p.get_active_adapters()) == {"sigma", "style"}
    assert not p.condition_mask  # the style LoRA cannot vouch for the mask
    both = transformer_out(p.transformer)
    p.disable_lora()
    torch.testing.assert_close(transformer_out(p.transformer), bare)
    assert not p.condition_mask
    p.enable_lora()
    torch.testing.assert_close(transformer_out(p.transformer), both)
    p.fuse_lora(adapter_names=["sigma", "style"])
    torch.testing.assert_close(transformer_out(p.transformer), both, atol=1e-5, rtol=1e-5)
    p.unfuse_lora()
    p.delete_adapters("style")
    assert list(p.lora_infos) == ["sigma"] and p.condition_mask
    p.unload_lora_weights()
    assert p.lora_infos == {} and not p.condition_mask
    torch.testing.assert_close(transformer_out(p.transformer), bare)


def test_a_state_dict_loads_like_a_file(files):
    from safetensors.torch import load_file

    p = make_tiny_pipeline(0)
    p.load_lora_weights(load_file(str(files["style"])), adapter_name="d")
    q = make_tiny_pipeline(0)
    q.load_lora_weights(files["style"], adapter_name="f")
    torch.testing.assert_close(transformer_out(p.transformer), transformer_out(q.transformer))


def test_a_failed_second_load_leaves_the_pipeline_as_it_was(files, tmp_path):
    p = make_tiny_pipeline(0)
    p.load_lora_weights(files["masked"], adapter_name="sigma")
    before = transformer_out(p.transformer)
    broken = raw_file(tmp_path, "broken.safetensors", {
        "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": rnd(2, 32),
        "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": rnd(32, 3)})  # ranks disagree
    with pytest.raises(ModelError):
        p.load_lora_weights(broken, adapter_name="broken")
    assert list(p.lora_infos) == ["sigma"] and p.get_active_adapters() == ["sigma"] and p.condition_mask
    assert "broken" not in p.transformer.peft_config
    torch.testing.assert_close(transformer_out(p.transformer), before)


def test_a_lora_for_another_base_size_is_one_short_error(tmp_path):
    big = raw_file(tmp_path, "big.safetensors", {
        "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": rnd(2, 3072),
        "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": rnd(3072, 2)})
    p = make_tiny_pipeline(0)
    with pytest.raises(ModelError) as err:
        p.load_lora_weights(big)
    text = err.value.format()
    assert "trained for another base model" in text and "3072" in text and len(text.splitlines()) <= 4
    assert p.lora_infos == {} and not getattr(p.transformer, "peft_config", {})


def test_keys_that_match_no_layer_are_a_visible_warning_or_a_strict_error(tmp_path):
    odd = raw_file(tmp_path, "odd.safetensors", {
        "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": rnd(2, 32),
        "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": rnd(32, 2),
        "transformer.transformer_blocks.7.attn.to_q.lora_A.weight": rnd(2, 32),
        "transformer.transformer_blocks.7.attn.to_q.lora_B.weight": rnd(32, 2)})
    p = make_tiny_pipeline(0)
    with pytest.warns(LoraKeysWarning, match="match nothing in this base"):
        info = p.load_lora_weights(odd, adapter_name="odd")
    assert info.warnings and "transformer_blocks.7" in info.warnings[0]
    q = make_tiny_pipeline(0)
    with pytest.raises(ModelError, match="match nothing"):
        q.load_lora_weights(odd, strict=True)
    assert q.lora_infos == {}


def test_a_pickled_bin_lora_loads_like_stock_diffusers_from_a_file_or_its_folder(files, tmp_path):
    """Older diffusers LoRAs are `pytorch_lora_weights.bin` (torch pickles); stock loads them, so must we."""
    from diffusers import FluxKontextPipeline
    from safetensors.torch import load_file

    folder = tmp_path / "old"
    folder.mkdir()
    torch.save(load_file(str(files["style"])), folder / "pytorch_lora_weights.bin")
    stock = FluxKontextPipeline(**make_tiny_components(0), image_encoder=None, feature_extractor=None)
    stock.load_lora_weights(str(folder / "pytorch_lora_weights.bin"))
    for source in (folder / "pytorch_lora_weights.bin", folder):
        p = make_tiny_pipeline(0)
        info = p.load_lora_weights(source)
        assert info.rank == 2 and info.sigma is False and info.path.endswith(".bin")
        torch.testing.assert_close(transformer_out(p.transformer), transformer_out(stock.transformer))


def test_a_pickle_that_is_not_a_state_dict_of_tensors_is_refused_without_running_it(tmp_path):
    import pickle

    class Runs:
        def __reduce__(self):
            return (print, ("this must not run",))

    bad = tmp_path / "evil.bin"
    bad.write_bytes(pickle.dumps({"transformer.x.lora_A.weight": Runs()}))
    with pytest.raises(SigmaError, match="holds objects other than tensors, and pickled code is never run"):
        make_tiny_pipeline(0).load_lora_weights(bad)


def test_a_lora_with_nan_values_is_refused_and_leaves_the_pipeline_clean(tmp_path):
    nan = raw_file(tmp_path, "nan.safetensors", {
        "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": rnd(2, 32),
        "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": rnd(32, 2) * float("nan")})
    p = make_tiny_pipeline(0)
    before = transformer_out(p.transformer)
    with pytest.raises(ModelError, match="NaN or infinite values in 1 tensors") as err:
        p.load_lora_weights(nan)
    assert "to_q.lora_B" in str(err.value) and "earlier checkpoint" in str(err.value)
    assert p.lora_infos == {} and not getattr(p.transformer, "peft_config", {})
    torch.testing.assert_close(transformer_out(p.transformer), before)


def test_a_stable_diffusion_lora_is_refused_with_a_hint_and_changes_nothing(tmp_path):
    """Stock diffusers loads a peft UNet LoRA into a Flux pipeline without a word and applies nothing."""
    unet = raw_file(tmp_path, "sd.safetensors", {
        "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight": rnd(2, 640),
        "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight": rnd(640, 2)})
    kohya = raw_file(tmp_path, "sdxl.safetensors", {
        "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight": rnd(2, 640),
        "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight": rnd(640, 2)})
    for path, says in ((unet, "nothing in LoRA"), (kohya, "not a LoRA diffusers can read")):
        p = make_tiny_pipeline(0)
        before = transformer_out(p.transformer)
        with pytest.raises(ModelError, match=says) as err:
            p.load_lora_weights(path)
        assert "Stable Diffusion UNet" in str(err.value) and len(str(err.value)) < 600
        assert p.lora_infos == {} and not getattr(p.transformer, "peft_config", {})
        torch.testing.assert_close(transformer_out(p.transformer), before)


def test_a_broken_lora_file_is_one_line_naming_what_is_wrong(tmp_path):
    half = raw_file(tmp_path, "half.safetensors",
                    {"transformer.transformer_blocks.0.attn.to_q.lora_A.weight": rnd(2, 32)})
    ints = raw_file(tmp_path, "ints.safetensors", {
        "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": torch.ones(2, 32, dtype=torch.int64),
        "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": torch.ones(32, 2, dtype=torch.int64)})
    for path, says in ((half, "the tensor 'transformer_blocks.0.attn.to_q.lora_B.weight' is missing"),
                       (ints, "holds torch.int64 tensors")):
        p = make_tiny_pipeline(0)
        with pytest.raises(ModelError, match=says):
            p.load_lora_weights(path)
        assert p.lora_infos == {} and not getattr(p.transformer, "peft_config", {})


def test_a_folder_is_read_only_when_it_names_one_lora(files, tmp_path):
    """diffusers takes the first of several files in directory order; the file described must be the one loaded."""
    import shutil

    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    shutil.copy(files["style"], one / "style.safetensors")
    shutil.copy(files["style"], two / "a.safetensors")
    shutil.copy(files["masked"], two / "b.safetensors")
    assert make_tiny_pipeline(0).load_lora_weights(one).path.endswith("style.safetensors")
    with pytest.raises(ModelError, match="a folder with 2 LoRA files") as err:
        make_tiny_pipeline(0).load_lora_weights(two)
    assert "weight_name" in str(err.value)
    info = make_tiny_pipeline(0).load_lora_weights(str(two), weight_name="b.safetensors")
    assert info.condition_mask and info.path.endswith("b.safetensors")
    assert make_tiny_pipeline(0).load_lora_weights(tmp_path, subfolder="one").path.endswith("style.safetensors")


def test_render_with_a_sigma_lora_and_a_weighted_style_lora_records_both(env, files):
    base = save_tiny_pipeline(env / "tiny")
    scene = write_scene(env / "s")
    res = CliRunner().invoke(app, ["render", str(scene), "--base", str(base), "--lora", str(files["masked"]),
                                   "--lora", f"{files['style']}:0.8", "-o", str(env / "two.png"), "--steps", "1"])
    assert res.exit_code == 0, res.output
    side = json.loads((env / "two.json").read_text())
    masked, style = side["model"]["loras"]
    assert (masked["weight"], style["weight"]) == (1.0, 0.8) and len(style["sha256"]) == 64
    assert masked["metadata"]["condition_mask"] and not style["metadata"]["condition_mask"]
    assert f"--lora {files['style']}:0.8" in side["command"] and side["condition_mask"] is False


def test_cache_refusal_names_the_lora_and_comes_before_the_base_loads(env, files, monkeypatch):
    import sigmascene.model.loading as loading

    def no_loading(*a, **k):
        raise AssertionError("the base must not load before the refusal")

    monkeypatch.setattr(loading, "load_pipeline", no_loading)
    base = save_tiny_pipeline(env / "tiny")
    scene = write_scene(env / "s")
    res = CliRunner().invoke(app, ["render", str(scene), "--base", str(base), "--lora", str(files["masked"]),
                                   "--lora", str(files["style"]), "--cache-conditions", "-o", str(env / "c.png")])
    assert res.exit_code == 1 and "cannot vouch for the condition mask" in res.output
    assert "style.safetensors" in res.output and "Traceback" not in res.output
