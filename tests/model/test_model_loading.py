"""The one pipeline loader every command uses: LoRA applied, memory options honoured, bad options are clean errors."""

import pytest
import torch

from sigmascene.errors import SigmaError
from sigmascene.model.loading import compute_dtype, load_pipeline, resolve_device
from sigmascene.model.lora import add_sigma_lora, save_sigma_lora
from sigmascene.testing.tiny_pipeline import make_tiny_components



def test_loads_on_cpu_in_fp32_with_the_lora_applied(base, tmp_path):
    tr = make_tiny_components(0)["transformer"]
    add_sigma_lora(tr, rank=2, alpha=2)
    lora = save_sigma_lora(tmp_path / "l.safetensors", tr, rank=2, alpha=2, condition_mask=True, config_hash="h")
    plain = load_pipeline(base, device="cpu")
    with_lora = load_pipeline(base, lora, device="cpu")
    assert plain.transformer.dtype == torch.float32 and plain.device.type == "cpu"
    assert with_lora.condition_mask and not plain.condition_mask
    assert any("lora_B" in n for n, _ in with_lora.transformer.named_parameters())
    assert not any("lora_B" in n for n, _ in plain.transformer.named_parameters())


def test_offload_on_cpu_is_ignored_with_a_note(base):
    notes = []
    pipe = load_pipeline(base, device="cpu", offload="model", note=notes.append)
    assert len(notes) == 1 and "no effect on cpu" in notes[0]
    assert pipe.transformer.device.type == "cpu"


def test_fp8_keeps_transformer_weights_in_float8(base):
    pipe = load_pipeline(base, device="cpu", dtype="fp8")
    dtypes = {p.dtype for n, p in pipe.transformer.named_parameters() if n.endswith("weight") and p.dim() == 2}
    assert torch.float8_e4m3fn in dtypes


@pytest.mark.parametrize("kwargs, msg", [(dict(dtype="int4"), "--dtype 'int4'"),
                                         (dict(offload="disk"), "--offload 'disk'"),
                                         (dict(lora="missing.safetensors"), "does not exist")])
def test_bad_options_are_user_errors(base, kwargs, msg):
    with pytest.raises(SigmaError, match=msg):
        load_pipeline(base, device="cpu", **kwargs)


def test_auto_device_and_dtype_follow_the_machine():
    dev = resolve_device("auto")
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert compute_dtype("auto", torch.device("cpu")) == torch.float32
    assert compute_dtype("auto", torch.device("cuda")) == torch.bfloat16
    assert compute_dtype("fp8", torch.device("cpu")) == torch.bfloat16
    if not torch.cuda.is_available():
        with pytest.raises(SigmaError, match="torch sees none"):
            resolve_device("cuda")
