"""The resolver (sigmascene/rendering/plan.py): every rule of a render request checked once, before loading —
which method by default, which LoRA fits which method, one error per missing LoRA, misspelt methods."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.torch import save_file

from sigmascene.errors import ConfigError, SigmaError
from sigmascene.rendering.lora_kinds import LoraHeader, lora_kind, register_lora_kind
from sigmascene.rendering.methods import SPECS, TABLE, method_entry
from sigmascene.rendering.plan import resolve_model, resolve_plan
from sigmascene.rendering.request import RenderRequest
from sigmascene.scene import Scene
from sigmascene.testing.tiny_pipeline import save_tiny_sigma_lora


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A base folder the resolver accepts (it only checks model_index.json: nothing is loaded), a SIGMA LoRA, and
    the same weights as a kohya style LoRA and as a foreign LoRA with no metadata."""
    root = tmp_path_factory.mktemp("plan")
    base = root / "base"
    base.mkdir()
    (base / "model_index.json").write_text("{}")
    sigma = save_tiny_sigma_lora(root / "sigma.safetensors")
    with safe_open(str(sigma), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    style, foreign = root / "style.safetensors", root / "foreign.safetensors"
    save_file(tensors, str(style), metadata={"ss_network_module": "networks.lora_flux"})
    save_file(tensors, str(foreign))
    return {"base": base, "sigma": sigma, "style": style, "foreign": foreign}


@pytest.fixture(autouse=True)
def _no_config(env):
    return env


def plan(**kw):
    return resolve_model(RenderRequest(**kw))


def test_lora_kinds_are_read_from_the_header(files):
    assert lora_kind(files["sigma"]) == "sigma"
    assert lora_kind(files["style"]) == "style"
    assert lora_kind(files["foreign"]) == "unknown"


def test_no_base_renders_the_demo_with_sigma_silently():
    model, spec, said = plan()
    assert model.demo and spec.name == "sigma" and said == ()
    assert [lo.kind for lo in model.loras] == ["sigma"]


def test_a_base_and_a_sigma_lora_default_to_sigma_and_say_so(files):
    model, spec, said = plan(base=str(files["base"]), loras=[str(files["sigma"])])
    assert spec.name == "sigma" and len(said) == 1 and said[0].startswith("method: sigma")


def test_a_base_and_no_lora_default_to_collage_in_one_line(files):
    model, spec, said = plan(base=str(files["base"]))
    assert spec.name == "collage" and model.loras == ()
    assert len(said) == 1 and said[0].startswith("method: collage") and "\n" not in said[0]


@pytest.mark.parametrize("extra", ["style", "foreign"])
def test_style_and_unknown_loras_stack_on_collage(files, extra):
    model, spec, _ = plan(base=str(files["base"]), loras=[str(files[extra])])
    assert spec.name == "collage" and [lo.path for lo in model.loras] == [files[extra]]


def test_old_mode_iterative_is_the_iterative_method(files):
    _, spec, _ = plan(base=str(files["base"]), loras=[str(files["sigma"])], mode="iterative")
    assert spec.name == "iterative"
    with pytest.raises(ConfigError, match="--mode iterative is the iterative method"):
        plan(base=str(files["base"]), loras=[str(files["sigma"])], mode="iterative", method="collage")


def test_collage_on_the_demo_base_leaves_the_demo_lora_out():
    model, spec, _ = plan(method="collage")
    assert model.demo and spec.name == "collage" and model.loras == ()


def test_a_sigma_lora_with_collage_is_one_error_naming_both(files):
    with pytest.raises(ConfigError) as err:
        plan(base=str(files["base"]), loras=[str(files["sigma"])], method="collage")
    text = err.value.format()
    assert "a SIGMA LoRA" in text and "collage method cannot use" in text and "--method sigma" in text


def test_method_sigma_without_a_sigma_lora_is_an_error(files):
    with pytest.raises(ConfigError, match="--method sigma needs a SIGMA LoRA, but none is given"):
        plan(base=str(files["base"]), method="sigma")
    with pytest.raises(ConfigError, match="style.safetensors: style"):
        plan(base=str(files["base"]), loras=[str(files["style"])], method="iterative")


def test_a_misspelt_method_gets_did_you_mean(files):
    with pytest.raises(ConfigError) as err:
        plan(base=str(files["base"]), method="colage")
    assert "did you mean 'collage'?" in err.value.format()


def test_collage_with_a_sigma_only_flag_is_an_error(files):
    with pytest.raises(ConfigError) as err:
        plan(base=str(files["base"]), cache_conditions=True)
    assert "--cache-conditions is an option of the sigma method, not of collage" in err.value.format()


def test_one_error_kind_for_a_missing_lora_wherever_it_is_met(files, tmp_path):
    """The resolver, the loader, diffusers-style load_lora_weights and the trainer's reader: one ConfigError."""
    from sigmascene.model.loading import load_pipeline
    from sigmascene.model.lora import read_sigma_lora
    from sigmascene.testing.tiny_pipeline import make_tiny_pipeline

    missing = tmp_path / "gone.safetensors"
    calls = [lambda: plan(base=str(files["base"]), loras=[str(missing)]),
             lambda: load_pipeline(files["base"], missing, device="cpu"),
             lambda: make_tiny_pipeline().load_lora_weights(str(missing)),
             lambda: read_sigma_lora(missing)]
    for call in calls:
        with pytest.raises(SigmaError) as err:
            call()
        assert type(err.value) is ConfigError and err.value.format().startswith(f"error: LoRA file {missing} does not")


def test_the_table_has_one_entry_per_method_and_insertion():
    assert set(TABLE) == {(name, inserting) for name in SPECS for inserting in (False, True)}
    assert {"sigma", "iterative", "collage"} <= set(SPECS)
    assert method_entry("sigma", True) is TABLE[("sigma", True)] is not TABLE[("sigma", False)]


def test_a_method_module_can_register_its_lora_kind(files, monkeypatch):
    import sigmascene.rendering.lora_kinds as kinds

    monkeypatch.setattr(kinds, "_KINDS", list(kinds._KINDS))
    register_lora_kind("house", "a house LoRA", lambda h: h.path.name.startswith("foreign"), first=True)
    assert lora_kind(files["foreign"]) == "house" and lora_kind(files["sigma"]) == "sigma"
    assert isinstance(kinds.read_header(Path(files["foreign"])), LoraHeader)


def test_the_plan_takes_the_scenes_seed_and_the_batch_after_it(files):
    scene = Scene(canvas=(64, 48), seed=5)
    p = resolve_plan(RenderRequest(base=str(files["base"]), loras=[str(files["sigma"])], batch=3), scene)
    assert p.seeds == (5, 6, 7) and p.size == (64, 48) and p.method == "sigma" and not p.insertion
    assert resolve_plan(RenderRequest(seeds=(9, 1)), scene).seeds == (9, 1)
    with pytest.raises(ConfigError, match="not both"):
        resolve_plan(RenderRequest(seeds=(9, 1), seed=3), scene)
    with pytest.raises(ConfigError, match="runs past the largest seed"):
        resolve_plan(RenderRequest(seed=2**53, batch=2), scene)
