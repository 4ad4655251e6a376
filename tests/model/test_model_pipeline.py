"""The full SigmaPipeline on a tiny random-weight Flux Kontext stack, on CPU, in seconds."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import sigmascene
from sigmascene.errors import SigmaError
from sigmascene.model.iterative import BlendCallback, subject_maps, token_mask
from sigmascene.model.lora import add_sigma_lora, save_sigma_lora
from sigmascene.model.pipeline import SigmaPipeline
from sigmascene.testing.tiny_pipeline import make_tiny_components, make_tiny_pipeline, save_tiny_pipeline

SCENE = """sigma 1
canvas 64 x 48
seed 3
prompt "a small room"
compose "@cat sits next to @box_1"
subject cat {{ ref "cat.png" caption "a grey cat" box2d (0.05, 0.1, 0.5, 0.9) depth 2 }}
subject box_1 {{ ref "box.png" box2d (0.4, 0.3, 0.95, 0.95) depth {box_depth} }}
"""


def write_scene(folder: Path, box_depth: float = 1.0) -> Path:
    """A two-subject scene with generated reference images; the box is nearer and overlaps the cat."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((40, 40, 3), (120, 120, 130), np.uint8)).save(folder / "cat.png")
    Image.fromarray(np.tile(np.arange(40, dtype=np.uint8)[:, None, None] * 6, (1, 40, 3))).save(folder / "box.png")
    path = folder / "room.sigma"
    path.write_text(SCENE.format(box_depth=box_depth))
    return path


def maps(h=64, w=48):
    ctrl = np.zeros((h, w, 3), np.uint8)
    ctrl[8:40, 4:30, :2] = 10
    ctrl[30:60, 20:44, :2] = 20
    ctrl[30:60, 20:44, 2] = 180
    ident = (np.random.RandomState(0).rand(64, 32, 3) * 255).astype(np.uint8)
    return ctrl, ident


@pytest.fixture(scope="module")
def pipe():
    return make_tiny_pipeline(0)


def call(pipe, seed=1, **kw):
    ctrl, ident = maps()
    kw.setdefault("control_image", ctrl)
    kw.setdefault("identity_image", ident)
    kw.setdefault("num_inference_steps", 3)
    return pipe(prompt="Place these subjects in a room", generator=torch.Generator().manual_seed(seed), **kw)


def test_renders_an_image_of_the_canvas_size_with_timings(pipe):
    out = call(pipe)
    assert out.images[0].size == (48, 64)
    assert {"encode_prompt_s", "encode_conditions_s", "denoise_s", "decode_s", "total_s"} <= set(out.timings)
    assert out.timings["steps"] == 3


def test_same_seed_same_image_other_seed_other_image(pipe):
    a, b, c = (call(pipe, seed=s, output_type="np").images for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_latent_output_is_x_alone_on_the_canvas_grid(pipe):
    lat = call(pipe, output_type="latent", num_images_per_prompt=2).images
    assert lat.shape == (2, (64 // 16) * (48 // 16), 16)


def test_identity_changes_the_result(pipe):
    ctrl, ident = maps()
    a = call(pipe, output_type="latent").images
    b = call(pipe, identity_image=255 - ident, output_type="latent").images
    assert not torch.allclose(a, b)


def test_cache_gives_the_same_image_as_the_masked_pipeline(pipe):
    plain = call(pipe, condition_mask=True, output_type="latent").images
    cached = call(pipe, condition_mask=True, cache_conditions=True, output_type="latent").images
    torch.testing.assert_close(cached, plain, rtol=1e-5, atol=1e-5)


def test_cache_is_refused_without_a_masked_lora(pipe, tmp_path):
    with pytest.raises(SigmaError, match="no LoRA is loaded"):
        call(pipe, cache_conditions=True)
    p = make_tiny_pipeline(0)
    tr = make_tiny_components(0)["transformer"]
    add_sigma_lora(tr, rank=2, alpha=2)
    save_sigma_lora(tmp_path / "nomask.safetensors", tr, rank=2, alpha=2, condition_mask=False, config_hash="a")
    save_sigma_lora(tmp_path / "mask.safetensors", tr, rank=2, alpha=2, condition_mask=True, config_hash="b")
    p.load_lora_weights(tmp_path / "nomask.safetensors", adapter_name="nomask")
    with pytest.raises(SigmaError, match="cannot vouch for the condition mask"):
        call(p, cache_conditions=True)
    assert p.load_lora_weights(tmp_path / "mask.safetensors", adapter_name="mask").config_hash == "b"
    assert p.get_active_adapters() == ["mask"] and p.condition_mask  # diffusers: the last loaded is active
    p.set_adapters(["nomask", "mask"], [1.0, 0.5])
    assert not p.condition_mask  # every adapter in effect must vouch for the mask
    p.set_adapters(["nomask", "mask"], [0.0, 1.0])
    assert p.condition_mask  # a zero-weight adapter changes nothing
    assert call(p, cache_conditions=True).images[0].size == (48, 64)


def test_blending_keeps_the_background_outside_the_paint_mask(pipe):
    ctrl, _ = maps()
    background = np.zeros((64, 48, 3), np.uint8)
    background[:, :24] = 255
    paint = np.zeros((64, 48), bool)
    paint[32:, 16:] = True
    noise = torch.randn(1, 12, 16, generator=torch.Generator().manual_seed(5))
    blend = BlendCallback(pipe, background, paint, noise, (64, 48))
    lat = call(pipe, latents=noise, callback_on_step_end=blend, output_type="latent").images
    from sigmascene.model.layout import encode_image_latents, pack_latents, prepare_condition_image

    bg = pack_latents(encode_image_latents(pipe.vae, prepare_condition_image(background, (64, 48))))
    keep = token_mask(paint, (4, 3)) == 0
    assert keep.any() and (~keep).any()
    torch.testing.assert_close(lat[0, keep], bg[0, keep])
    assert not torch.allclose(lat[0, ~keep], bg[0, ~keep])


def test_token_mask_covers_any_touched_token_and_dilates():
    m = np.zeros((64, 48), bool)
    m[20, 20] = True
    assert token_mask(m, (4, 3), dilate=0).reshape(4, 3).nonzero().tolist() == [[1, 1]]
    assert token_mask(m, (4, 3), dilate=1).sum() == 9


def test_bad_inputs_are_user_errors(pipe):
    with pytest.raises(SigmaError, match="both a control map"):
        pipe(prompt="x", control_image=np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(SigmaError, match="multiple of 16"):
        call(pipe, control_image=np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(SigmaError, match="exactly one"):
        pipe(control_image=maps()[0], identity_image=maps()[1])


def test_prompt_embeddings_can_replace_the_prompt(pipe):
    embeds, pooled = pipe.encode_prompt("Place these subjects in a room", device=torch.device("cpu"))
    ctrl, ident = maps()
    a = pipe(prompt_embeds=embeds, pooled_prompt_embeds=pooled, control_image=ctrl, identity_image=ident,
             num_inference_steps=2, generator=torch.Generator().manual_seed(1), output_type="latent").images
    b = call(pipe, num_inference_steps=2, output_type="latent").images
    torch.testing.assert_close(a, b)


def test_saved_tiny_model_loads_as_a_kontext_folder_and_renders_the_same(tmp_path, pipe):
    folder = save_tiny_pipeline(tmp_path / "tiny")
    index = json.loads((folder / "model_index.json").read_text())
    # what a real FLUX.1-Kontext-dev folder says: another pipeline class and two unused components
    index.update(_class_name="FluxKontextPipeline", image_encoder=[None, None], feature_extractor=[None, None])
    (folder / "model_index.json").write_text(json.dumps(index))
    loaded = SigmaPipeline.from_pretrained(folder)
    assert isinstance(loaded, SigmaPipeline)
    np.testing.assert_allclose(call(loaded, output_type="np").images, call(pipe, output_type="np").images, atol=1e-6)


def test_missing_base_folder_says_how_to_get_weights(tmp_path):
    with pytest.raises(SigmaError) as err:
        SigmaPipeline.from_pretrained(tmp_path / "absent")
    assert "does not exist" in str(err.value) and "FLUX.1-Kontext-dev" in err.value.format()
    with pytest.raises(SigmaError, match="no model_index.json"):
        SigmaPipeline.from_pretrained(tmp_path)


def test_render_a_compiled_scene_single_and_iterative(pipe, tmp_path):
    compiled = sigmascene.compile(sigmascene.load(write_scene(tmp_path)))
    single = pipe.render(compiled, num_inference_steps=2)
    assert single.images[0].size == (64, 48)
    ticks = []
    it = pipe.render_iterative(compiled, num_inference_steps=2, callback=lambda i, n: ticks.append((i, n)))
    assert it.images[0].size == (64, 48)
    assert it.timings["passes"] == 2 and ticks[-1] == (4, 4) and len(ticks) == 4


def test_subject_maps_isolate_one_subject_as_a_one_subject_scene():
    ctrl, ident = maps()
    one, block, region = subject_maps(ctrl, ident, 2, 1)
    assert block.shape == (32, 32, 3) and np.array_equal(block, ident[32:])
    assert set(np.unique(one[..., 0])) == {0, 10} and np.array_equal(one[..., 0] == 10, region)
    assert (one[..., 2][region] == 180).all() and (one[..., 2][~region] == 0).all()
    with pytest.raises(SigmaError):
        subject_maps(ctrl, ident[:63], 2, 0)


def test_fp8_weight_storage_runs_through_the_sigma_forward():
    """The documented fp8 path: weights stored in float8, each layer computing in bf16 (diffusers' hooks)."""
    p = make_tiny_pipeline(0).to(torch.bfloat16)
    ref = call(p, output_type="latent").images.float()
    p.transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=torch.bfloat16)
    assert p.transformer.transformer_blocks[0].attn.to_q.weight.dtype == torch.float8_e4m3fn
    out = call(p, output_type="latent").images.float()
    assert torch.isfinite(out).all()
    assert (out - ref).abs().mean() < 0.1 * ref.abs().mean()  # quantised, not broken
