"""`--method contextgen` through the render seam on a tiny random Kontext folder and a random adapter in
ContextGen's format: chosen from the file, inputs taken from the scene, the sidecar and files enough to replay
the render with ContextGen's inference (here: the naive re-derivation of tests/model/contextgen_reference.py),
insertion, seeds, single-file / GGUF transformers, and the refusals."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import sigmascene
from sigmascene.errors import ConfigError, SigmaError
from sigmascene.rendering.plan import resolve_plan
from sigmascene.rendering.render import load_model
from sigmascene.rendering.request import RenderRequest
from sigmascene.testing.tiny_contextgen import make_tiny_contextgen_components, save_contextgen_adapter
from sigmascene.testing.tiny_pipeline import save_tiny_sigma_lora

sys.path.insert(0, str(Path(__file__).parents[1] / "model"))
from contextgen_reference import reference_latents

SCENE = '''sigma 1
canvas {w} x {h}
seed 5
prompt "a sandy beach"
compose "@cat sits beside @vase"
{background}
subject cat {{ ref "cat.png" caption "a red cat" box2d (0.05, 0.1, 0.6, 0.7) depth 2 }}
subject vase {{ ref "vase.png" caption "a blue vase" box2d (0.4, 0.3, 0.95, 0.95) depth 3 }}
'''


def _rgba(w, h, seed, *, alpha=True):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    a[..., 3] = np.where(((yy - h / 2) / (h / 2.3)) ** 2 + ((xx - w / 2) / (w / 2.3)) ** 2 < 1, 255, 0)
    return Image.fromarray(a if alpha else a[..., :3], "RGBA" if alpha else "RGB")


def write_scene(folder: Path, w=64, h=64, *, background=False, alpha=True) -> Path:
    _rgba(40, 30, 1, alpha=alpha).save(folder / "cat.png")
    _rgba(24, 36, 2).save(folder / "vase.png")
    bg = ""
    if background:
        Image.fromarray(np.random.default_rng(3).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / "photo.png")
        bg = 'background "photo.png"'
    path = folder / "scene.sigma"
    path.write_text(SCENE.format(w=w, h=h, background=bg))
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from diffusers import FluxKontextPipeline

    d = tmp_path_factory.mktemp("cgmodel")
    comps = make_tiny_contextgen_components(0)
    FluxKontextPipeline(**comps).save_pretrained(d / "base")
    adapter = save_contextgen_adapter(comps["transformer"], d / "adapter", rank=8, seed=1, scale=0.2)
    sigma_lora = save_tiny_sigma_lora(d / "sigma.safetensors")
    return d / "base", adapter, sigma_lora, comps["transformer"].state_dict()


@pytest.fixture(scope="module")
def loaded(model):
    base, adapter, _, _ = model
    return load_model(RenderRequest(base=str(base), loras=[str(adapter)], device="cpu"))


def _render(scene_path, base, adapter, loaded=None, **kw):
    kw.setdefault("steps", 2)
    return sigmascene.render(scene_path, base=base, loras=[adapter], device="cpu", loaded=loaded, **kw)


def test_contextgens_adapter_makes_contextgen_the_default_with_one_line(model, tmp_path):
    base, adapter, _, _ = model
    plan = resolve_plan(RenderRequest(base=str(base), loras=[str(adapter)]), sigmascene.load(write_scene(tmp_path)))
    assert plan.method == "contextgen" and plan.model.loras[0].kind == "contextgen"
    assert plan.guidance == 3.5 and plan.steps == 28  # ContextGen's defaults
    assert [n for n in plan.notes if n.startswith("method: contextgen")]
    assert resolve_plan(RenderRequest(base=str(base), loras=[str(adapter)], guidance=2.0),
                        sigmascene.load(write_scene(tmp_path))).guidance == 2.0


def test_the_sidecar_and_files_replay_with_contextgens_inference(model, loaded, tmp_path):
    base, adapter, _, _ = model
    scene_path = write_scene(tmp_path)
    res = _render(scene_path, base, adapter, loaded, output_type="latent", seed=11)
    side = res.sidecars[0]["contextgen"]
    assert res.plan.method == "contextgen" and res.sidecars[0]["method"] == "contextgen"
    files = res.files[0]
    for key, picture in files.items():  # what save_render writes beside the render, read back as a replayer would
        picture.save(tmp_path / f"scene.{key}.png")
    assert [r["subject"] for r in side["references"]] == ["cat", "vase"]
    refs = [(Image.open(tmp_path / f"scene.{r['file']}.png"), r["bbox"]) for r in side["references"]]
    assert all(img.mode == "RGBA" for img, _ in refs)
    b0, b1 = side["references"][0]["bbox"], side["references"][1]["bbox"]
    assert b0[0] < b1[2] and b1[0] < b0[2] and b0[1] < b1[3] and b1[1] < b0[3]  # the boxes overlap
    layout = Image.open(tmp_path / f"scene.{side['layout']}.png")
    assert layout.mode == "RGBA" and layout.size == (side["width"], side["height"])
    assert side["caption"] == "a red cat sits beside a blue vase. a sandy beach."
    torch.manual_seed(side["global_seed"])
    theirs = reference_latents(loaded.pipe, side["caption"], refs, layout, side["height"], side["width"],
                               side["num_inference_steps"], side["guidance_scale"], side["seed"])
    ours = res.images
    assert ours.shape == theirs.shape
    assert float((ours - theirs).norm() / theirs.norm()) < 1e-4


def test_several_seeds_give_one_latent_each(model, loaded, tmp_path):
    base, adapter, _, _ = model
    res = _render(write_scene(tmp_path), base, adapter, loaded, output_type="latent", seed=[3, 4], steps=1)
    assert res.images.shape[0] == 2 and not torch.allclose(res.images[0], res.images[1])
    assert [s["contextgen"]["seed"] for s in res.sidecars] == [3, 4]


def test_insertion_keeps_every_pixel_outside_the_blend_region(model, loaded, tmp_path):
    from sigmascene.model.insert import feather_alpha

    base, adapter, _, _ = model
    res = _render(write_scene(tmp_path, background=True), base, adapter, loaded, steps=1, feather=2)
    assert res.plan.insertion and res.plan.method == "contextgen"
    image = np.asarray(res.images[0])
    photo = np.asarray(Image.open(tmp_path / "photo.png"))
    keep = feather_alpha(res.compiled.blend_region, 2) == 0
    assert keep.any() and (~keep).any()
    assert np.array_equal(image[keep], photo[keep])


def test_a_reference_without_alpha_renders_with_a_warning(model, loaded, tmp_path):
    base, adapter, _, _ = model
    res = _render(write_scene(tmp_path, alpha=False), base, adapter, loaded, output_type="latent", steps=1)
    assert any("no transparency and no matte" in n for n in res.notes)
    assert res.sidecars[0]["contextgen"]["references"][0]["cutout"] == "rectangle"


def test_a_canvas_off_the_grid_is_rounded_with_a_note(model, tmp_path):
    from sigmascene.scene import Canvas

    base, adapter, _, _ = model
    scene = sigmascene.load(write_scene(tmp_path))  # the language keeps canvases on the grid; a built Scene may not
    odd = scene.model_copy(update={"canvas": Canvas.model_construct(width=70, height=58)})
    odd.base_dir = scene.base_dir
    plan = resolve_plan(RenderRequest(base=str(base), loras=[str(adapter)]), odd)
    assert plan.size == (64, 64)
    assert any("rounded to 64x64" in n for n in plan.notes)


def test_the_pipeline_rounds_an_off_grid_canvas_with_a_warning(loaded):
    from sigmascene.model.contextgen.inputs import load_reference
    from sigmascene.model.contextgen.pipeline import ContextGenPipeline

    pipe = ContextGenPipeline.sharing(loaded.pipe)
    ref = load_reference(_rgba(20, 20, 0), [0, 0, 30, 30], base=256)
    with pytest.warns(UserWarning, match="rounded to 48x32"):
        out = pipe("a cat", [ref], _rgba(50, 30, 1), height=30, width=50, num_inference_steps=1,
                   generator=torch.Generator().manual_seed(0), output_type="latent")
    assert out.images.shape[1] == (32 // 16) * (48 // 16)


def test_the_adapters_refuse_the_wrong_method(model, tmp_path):
    base, adapter, sigma_lora, _ = model
    scene = sigmascene.load(write_scene(tmp_path))
    with pytest.raises(ConfigError, match="ContextGen's LoRA, which the sigma method cannot use"):
        resolve_plan(RenderRequest(base=str(base), loras=[str(adapter)], method="sigma"), scene)
    with pytest.raises(ConfigError, match="is a SIGMA LoRA, which the contextgen method cannot use"):
        resolve_plan(RenderRequest(base=str(base), loras=[str(sigma_lora)], method="contextgen"), scene)


def test_more_instances_than_fit_the_sequence_is_a_located_error(model, loaded, tmp_path):
    base, adapter, _, _ = model
    for k in range(8):
        _rgba(64, 64, k).save(tmp_path / f"s{k}.png")
    subjects = "\n".join(f'subject s{k} {{ ref "s{k}.png" box2d (0.{k}, 0.1, 0.{k + 1}, 0.3) depth {k + 1} }}'
                         for k in range(8))
    path = tmp_path / "many.sigma"
    path.write_text(f'sigma 1\ncanvas 768 x 768\nprompt "a shelf"\n{subjects}\n')
    with pytest.raises(SigmaError) as err:
        _render(path, base, adapter, loaded, output_type="latent", steps=1)
    text = str(err.value)
    assert "s6 does not fit ContextGen's sequence" in text and "many.sigma:" in text


@pytest.mark.parametrize("kind", ["safetensors", "gguf"])
def test_single_file_and_gguf_transformers_render_contextgen(model, tmp_path, kind):
    from safetensors.torch import save_file

    base, adapter, _, sd = model
    if kind == "gguf":
        pytest.importorskip("gguf")
        from test_model_single_file import write_gguf

        tfile = write_gguf(tmp_path / "t.gguf", sd)
    else:
        tfile = tmp_path / "t.safetensors"
        save_file({k: v.contiguous() for k, v in sd.items()}, str(tfile))
    scene_path = write_scene(tmp_path)
    ref = _render(scene_path, base, adapter, output_type="latent", steps=1, seed=2).images
    res = sigmascene.render(scene_path, base=base, loras=[adapter], device="cpu", transformer=str(tfile),
                            output_type="latent", steps=1, seed=2)
    assert res.plan.method == "contextgen"
    rel = float((res.images - ref).norm() / ref.norm())
    assert rel < (1e-5 if kind == "safetensors" else 0.05)


def test_fp8_weights_and_offload_options_render_contextgen(model, tmp_path):
    base, adapter, _, _ = model
    notes: list[str] = []
    res = sigmascene.render(write_scene(tmp_path), base=base, loras=[adapter], device="cpu", dtype="fp8",
                            offload="model", output_type="latent", steps=1, seed=2, note=notes.append)
    assert res.plan.method == "contextgen" and res.sidecars[0]["fp8_storage"]
    assert torch.isfinite(res.images).all()
    assert any("--offload model has no effect on cpu" in n for n in notes)  # a GPU-only saving, said on CPU
    assert res.sidecars[0]["contextgen"]["lora"].startswith("kept as PEFT layers")


def test_cli_render_writes_the_inputs_beside_the_image_and_says_the_method(model, tmp_path):
    import json

    from typer.testing import CliRunner

    from sigmascene.cli import app

    base, adapter, _, _ = model
    out = tmp_path / "out" / "beach.png"
    res = CliRunner().invoke(app, ["render", str(write_scene(tmp_path)), "--base", str(base), "--lora", str(adapter),
                                   "--steps", "1", "--device", "cpu", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "method: contextgen" in res.output
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["method"] == "contextgen" and side["guidance"] == 3.5
    assert set(side["files"]) == {"layout", "ref_0", "ref_1"}
    for name in side["files"].values():
        assert Image.open(out.parent / name).mode == "RGBA"
    assert "--method contextgen" in side["command"]


def test_the_method_table_lists_contextgen_for_every_front():
    from sigmascene.rendering.contextgen_method import contextgen_insertion, contextgen_plain
    from sigmascene.rendering.lora_kinds import lora_kinds
    from sigmascene.rendering.methods import TABLE, method_names, method_spec

    assert "contextgen" in method_names()  # the editor's picker, eval run / toyworld --method read this
    assert TABLE[("contextgen", False)] is contextgen_plain and TABLE[("contextgen", True)] is contextgen_insertion
    spec = method_spec("contextgen")
    assert spec.own_lora == "contextgen" and spec.default_guidance == 3.5 and spec.grid == 16
    assert lora_kinds()[0] == "contextgen"  # recognised before the generic kinds
