"""Checkpoints: atomic, verified, pruned; a damaged or half-written one is never picked."""

import json

import pytest
import torch

from sigmascene.errors import SigmaError
from sigmascene.train import checkpoints as ck
from sigmascene.train.components import add_lora, load_components, restore_lora
from sigmascene.train.config import TrainConfig

CFG = TrainConfig(model={"base": "tiny"}, lora={"rank": 2, "alpha": 2})
META = {"rank": 2, "alpha": 2.0, "condition_mask": True, "config_hash": CFG.config_hash()}


@pytest.fixture(scope="module")
def transformer():
    t = load_components(CFG)["transformer"]
    add_lora(t, CFG)
    return t


def _save(run, step, transformer, keep=3):
    opt = {"state": {0: {"x": torch.full((3,), float(step))}}, "param_groups": []}
    return ck.save_checkpoint(run, step, transformer=transformer, lora=META, optimizer=opt, scheduler={"s": step},
                              rng=[ck.capture_rng()], state={"stage": step % 2, "sampler": {"stage": 0, "epoch": 0,
                                                                                          "position": step}},
                              keep=keep)


def test_save_then_latest_returns_every_part(tmp_path, transformer):
    _save(tmp_path, 5, transformer)
    c = ck.latest(tmp_path)
    assert c.step == 5 and c.state["stage"] == 1 and c.state["sampler"]["position"] == 5
    assert c.load(ck.SCHEDULER) == {"s": 5}
    assert torch.equal(c.load(ck.OPTIMIZER)["state"][0]["x"], torch.full((3,), 5.0))
    ck.restore_rng(c.load(ck.RNG)[0])
    from sigmascene.model.lora import read_sigma_lora

    _, info = read_sigma_lora(c.lora_path)
    assert (info.rank, info.alpha, info.condition_mask, info.config_hash) == (2, 2.0, True, CFG.config_hash())


def test_only_the_newest_k_are_kept(tmp_path, transformer):
    for s in (1, 2, 3, 4, 5):
        _save(tmp_path, s, transformer, keep=2)
    assert [s for s, _ in ck.list_checkpoints(tmp_path)] == [4, 5]


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_good_one(tmp_path, transformer):
    _save(tmp_path, 1, transformer)
    newest = _save(tmp_path, 2, transformer)
    with open(newest / ck.OPTIMIZER, "r+b") as fh:  # same size, different bytes: only the hash catches it
        fh.seek(10)
        fh.write(b"\x00\x01\x02")
    assert ck.latest(tmp_path).step == 1
    (newest / ck.MANIFEST).unlink()
    assert ck.latest(tmp_path).step == 1
    with pytest.raises(SigmaError, match="not a complete"):
        ck.open_checkpoint(newest)


def test_leftovers_of_a_killed_save_are_ignored_then_swept(tmp_path, transformer):
    _save(tmp_path, 1, transformer)
    root = ck.checkpoint_root(tmp_path)
    (root / ".step-00000002.tmp-1-2").mkdir()
    (root / ".step-00000002.tmp-1-2" / ck.STATE).write_text(json.dumps({"step": 2}))
    (root / ".trash-step-00000000-5").mkdir()
    assert ck.latest(tmp_path).step == 1
    assert sorted(ck.sweep(tmp_path)) == [".step-00000002.tmp-1-2", ".trash-step-00000000-5"]
    assert [p.name for p in root.iterdir()] == ["step-00000001"]


def test_saving_a_step_again_replaces_it_whole(tmp_path, transformer):
    _save(tmp_path, 3, transformer)
    path = _save(tmp_path, 3, transformer)
    assert ck.verify(path) is not None and len(ck.list_checkpoints(tmp_path)) == 1


def test_restore_lora_puts_back_the_saved_weights(tmp_path, transformer):
    _save(tmp_path, 1, transformer)
    other = load_components(CFG)["transformer"]
    add_lora(other, CFG)
    with torch.no_grad():
        for p in transformer.parameters():
            if p.requires_grad:
                p.add_(0.5)  # make the saved LoRA differ from a fresh one
    path = _save(tmp_path, 2, transformer)
    restore_lora(other, path / ck.LORA)
    mine = {n: p for n, p in transformer.named_parameters() if p.requires_grad}
    theirs = {n: p for n, p in other.named_parameters() if p.requires_grad}
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[n], theirs[n]) for n in mine)


def test_a_full_disk_during_torch_save_is_one_clean_error_naming_the_file(tmp_path, transformer, monkeypatch):
    def full(obj, path, *a, **k):  # what torch's C++ stream writer raises on ENOSPC: RuntimeError, not OSError
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0\n"
                           "PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(SigmaError, match=r"cannot write .*optimizer\.pt: PytorchStreamWriter failed") as err:
        _save(tmp_path, 1, transformer)
    assert "writable run.dir" in str(err.value.format())
    assert ck.list_checkpoints(tmp_path) == [] and not any(ck.checkpoint_root(tmp_path).glob(".step-*"))


def test_a_read_only_folder_during_the_lora_write_is_one_clean_error_naming_the_file(tmp_path, transformer,
                                                                                   monkeypatch):
    import safetensors.torch
    from safetensors import SafetensorError

    def refuse(*a, **k):  # safetensors reports I/O failures as SafetensorError, not OSError
        raise SafetensorError("Error while serializing: IoError(Os { code: 30, kind: ReadOnlyFilesystem })")

    monkeypatch.setattr(safetensors.torch, "save_file", refuse)
    with pytest.raises(SigmaError, match=r"cannot write .*lora\.safetensors: Error while serializing"):
        _save(tmp_path, 1, transformer)
    assert ck.list_checkpoints(tmp_path) == []
