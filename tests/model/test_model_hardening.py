"""Issue 30's render-side items: `--device tpu` (29), a model_index.json that is not an object (27), a garbage
tokenizer.json (28) and damaged weights in a transformers component (26) are one clean error line each."""

import shutil

import pytest
from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.errors import ConfigError, ModelError
from sigmascene.model.loading import check_device_name, resolve_device
from sigmascene.testing.tiny_pipeline import save_tiny_pipeline

from test_model_pipeline import write_scene

runner = CliRunner()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return save_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny")


def damaged(base, tmp_path, rel: str, data: bytes | None = None, cut: bool = False):
    own = tmp_path / "base"
    shutil.copytree(base, own)
    f = own / rel
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2] if cut else data)
    return own


def render(*args):
    res = runner.invoke(app, ["render", *map(str, args)])
    assert "Traceback" not in res.output, res.output
    return res


@pytest.mark.parametrize("device", ["tpu", "tpu:9", "xla", "cuda:x", "vulkan"])
def test_item_29_an_unknown_render_device_is_a_clean_error(env, base, device):
    res = render(write_scene(env / "s"), "--base", base, "-o", env / "z.png", "--steps", "1", "--device", device)
    assert res.exit_code == 1 and device in res.output and "cpu" in res.output
    with pytest.raises(ConfigError):
        resolve_device(device)
    assert check_device_name("cuda:1") == "cuda:1" and check_device_name("auto") == "auto"


def test_item_29_a_gpu_index_torch_cannot_see_is_still_clean(env, base):
    res = render(write_scene(env / "s"), "--base", base, "-o", env / "z.png", "--steps", "1", "--device", "cuda:99")
    assert res.exit_code == 1 and "cuda:99" in res.output


def test_item_27_a_model_index_that_is_not_an_object_is_a_model_error(env, base, tmp_path):
    own = damaged(base, tmp_path, "model_index.json", b"[1, 2]")
    res = render(write_scene(env / "s"), "--base", own, "-o", env / "z.png", "--steps", "1")
    assert res.exit_code == 1 and "model_index.json" in res.output and "not an object" in res.output


def test_item_28_a_garbage_tokenizer_json_is_a_model_error(env, base, tmp_path):
    from sigmascene.model.pipeline import SigmaPipeline

    own = damaged(base, tmp_path, "tokenizer_2/tokenizer.json", b"{}")
    res = render(write_scene(env / "s"), "--base", own, "-o", env / "z.png", "--steps", "1")
    assert res.exit_code == 1 and "could not load the base model" in res.output
    with pytest.raises(ModelError):
        SigmaPipeline.from_pretrained(own)


@pytest.mark.parametrize("rel", ["text_encoder_2/model.safetensors", "text_encoder/model.safetensors"])
def test_item_26_damaged_transformers_weights_in_the_base_are_one_line(env, base, tmp_path, rel):
    own = damaged(base, tmp_path, rel, cut=True)
    res = render(write_scene(env / "s"), "--base", own, "-o", env / "z.png", "--steps", "1")
    assert res.exit_code == 1 and "could not load the base model" in res.output
