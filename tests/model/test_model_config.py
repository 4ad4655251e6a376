"""Base model and LoRA paths: flag beats environment beats the user config file; a missing model says what to do."""

from pathlib import Path

import pytest

from sigmascene.errors import SigmaError
from sigmascene.model.config import ENV_BASE, ENV_LORA, require_base, resolve_model_paths


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv(ENV_BASE, raising=False)
    monkeypatch.delenv(ENV_LORA, raising=False)
    return tmp_path


def write_config(home: Path, text: str) -> Path:
    p = home / "cfg" / "sigmascene" / "config.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_flag_beats_env_beats_config(home, monkeypatch):
    write_config(home, '[model]\nbase = "/from/config"\nlora = "weights/l.safetensors"\n')
    paths = resolve_model_paths()
    assert (paths.base, paths.base_source) == (Path("/from/config"), "config")
    assert paths.lora == home / "cfg" / "sigmascene" / "weights" / "l.safetensors"  # relative to the file
    monkeypatch.setenv(ENV_BASE, "/from/env")
    assert resolve_model_paths().base == Path("/from/env")
    assert resolve_model_paths(base="/from/flag").base_source == "flag"


def test_nothing_configured_is_unset(home):
    paths = resolve_model_paths()
    assert paths.base is None and paths.lora is None and paths.base_source == "unset"


def test_missing_base_explains_how_to_get_one(home):
    with pytest.raises(SigmaError) as err:
        require_base(resolve_model_paths())
    text = err.value.format()
    assert "no base model given" in text and "FLUX.1-Kontext-dev" in text and ENV_BASE in text
    with pytest.raises(SigmaError, match="does not exist"):
        require_base(resolve_model_paths(base=home / "nowhere"))
    (home / "empty").mkdir()
    with pytest.raises(SigmaError, match="no model_index.json"):
        require_base(resolve_model_paths(base=home / "empty"))


@pytest.mark.parametrize("text, msg", [("[model\n", "cannot read"), ("model = 3\n", "must be a table"),
                                       ("[model]\nbase = 3\n", "path string")])
def test_a_broken_config_file_is_a_user_error(home, text, msg):
    write_config(home, text)
    with pytest.raises(SigmaError, match=msg):
        resolve_model_paths()
