"""The training loop on the tiny model: it learns, writes a loadable LoRA, follows the curriculum, guards its folder."""

from contextlib import contextmanager

import numpy as np
import pytest
import torch
from PIL import Image
from train_support import STAGES, synthetic_dataset, tiny_config

from sigmascene.errors import SigmaError
from sigmascene.train.config import TrainConfig
from sigmascene.train.config_file import load_config, validate_config
from sigmascene.train.curriculum import Curriculum, Stage
from sigmascene.train.loop import train
from sigmascene.train.watch import read_metrics

LEARN_STAGES = [{"steps": 20, "max_subjects": 4}, {"steps": 15, "min_subjects": 3}, {"steps": 15, "min_subjects": 5}]


@contextmanager
def one_thread():
    """Toy matrices: OpenMP threads only add overhead, and on a shared machine they make it far worse."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data = synthetic_dataset(tmp_path_factory)
    run = tmp_path_factory.mktemp("run") / "r"
    cfg = validate_config(tiny_config(run, data, run={"validate_every": 50, "checkpoint_every": 25},
                                      lora={"condition_mask": True}, curriculum={"stages": LEARN_STAGES},
                                      validation={"samples": 3, "steps": 3}))
    with one_thread():
        result = train(cfg, resume="never", progress=False)
    return cfg, result


@pytest.mark.slow
def test_tiny_stack_trains_50_steps_and_the_fixed_noise_loss_falls(trained):
    cfg, result = trained
    assert result.step == 50 and len(result.losses) == 50 and np.isfinite(result.losses).all()
    assert sorted(result.val_losses) == [0, 50]
    assert result.val_losses[50] < 0.9 * result.val_losses[0], result.val_losses


@pytest.mark.slow
def test_run_folder_holds_grids_logs_config_and_final_lora(trained):
    cfg, result = trained
    run = cfg.run_dir
    for step in (0, 50):
        with Image.open(run / "validation" / f"step-{step:08d}.png") as im:
            assert im.width >= 4 * 100 and im.height > 3 * 100  # 4 columns, 3 scenes
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert (run / "lora.safetensors").is_file() and result.lora == run / "lora.safetensors"
    saved = load_config(run / "config.toml")
    assert saved.config_hash() == cfg.config_hash()


@pytest.mark.slow
def test_sampler_followed_the_curriculum_stage_by_stage(trained):
    cfg, _ = trained
    curriculum = Curriculum([Stage(**s) for s in LEARN_STAGES])
    lines = read_metrics(cfg.run_dir)
    assert [m["step"] for m in lines] == list(range(1, 51))
    for m in lines:
        stage = curriculum.stage_index(m["step"] - 1)
        assert m["stage"] == stage + 1
        assert curriculum.stages[stage].admits(m["subjects"]), m


@pytest.mark.slow
def test_saved_lora_loads_into_sigma_pipeline_and_renders_what_the_trained_model_renders(trained):
    from sigmascene.model.lora import read_sigma_lora
    from sigmascene.model.pipeline import SigmaPipeline
    from sigmascene.testing.tiny_pipeline import make_tiny_components

    cfg, result = trained
    _, info = read_sigma_lora(result.lora)
    assert (info.rank, info.alpha, info.condition_mask, info.config_hash) == (4, 4.0, True, cfg.config_hash())

    rng = np.random.default_rng(0)
    control = (rng.integers(0, 3, (64, 64, 3)) * 10).astype(np.uint8)
    identity = rng.integers(0, 255, (64, 32, 3), dtype=np.uint8)

    def render(pipe, **kw):
        out = pipe(prompt="Place these subjects in a room", control_image=control, identity_image=identity,
                   num_inference_steps=3, generator=torch.Generator().manual_seed(5), output_type="latent", **kw)
        return out.images

    with one_thread():
        live = SigmaPipeline(**dict(make_tiny_components(cfg.model.tiny_seed), transformer=result.transformer))
        loaded = SigmaPipeline(**make_tiny_components(cfg.model.tiny_seed))
        loaded.load_lora_weights(result.lora)
        base = SigmaPipeline(**make_tiny_components(cfg.model.tiny_seed))
        a, b = render(live, condition_mask=True), render(loaded)
        plain = render(base, condition_mask=True)
        cached = render(loaded, cache_conditions=True)  # allowed: the metadata says it was trained masked
    assert loaded.condition_mask
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(b, cached, atol=1e-4)
    assert (a - plain).abs().max() > 1e-3  # the LoRA changed something, so the equality above means something


@pytest.mark.slow
def test_existing_run_is_neither_restarted_nor_mixed_with_another_config(trained):
    cfg, _ = trained
    with pytest.raises(SigmaError, match="already holds checkpoints"):
        train(cfg, resume="never", progress=False)
    other = TrainConfig.model_validate(dict(cfg.model_dump(mode="json"), lora={"rank": 8, "alpha": 8.0}))
    with pytest.raises(SigmaError, match="another configuration"):
        train(other, resume="auto", progress=False)


@pytest.mark.slow
def test_a_finished_run_resumed_only_rewrites_its_lora(trained):
    cfg, result = trained
    (cfg.run_dir / "lora.safetensors").unlink()
    with one_thread():
        again = train(cfg, resume="auto", progress=False)
    assert again.resumed_from == 50 and again.losses == [] and (cfg.run_dir / "lora.safetensors").is_file()


def test_curriculum_that_the_dataset_cannot_fill_fails_before_loading_the_model(tmp_path, tmp_path_factory):
    data = synthetic_dataset(tmp_path_factory)
    cfg = validate_config(tiny_config(tmp_path / "r", data, curriculum={"stages": STAGES + [
        {"steps": 2, "min_subjects": 9}]}))
    with pytest.raises(SigmaError, match=r"no sample for curriculum stage 4/4 \(>=9 subjects\)"):
        train(cfg, resume="never", progress=False)


@pytest.mark.slow
def test_a_sample_the_compiler_rejects_is_reported_and_skipped(tmp_path, tmp_path_factory, capsys):
    import shutil

    data = tmp_path / "ds"
    shutil.copytree(synthetic_dataset(tmp_path_factory), data)
    from sigmascene.data.io import load_dataset

    broken = load_dataset(data)[0]
    (data / broken.subjects[0].identity).unlink()
    cfg = validate_config(tiny_config(tmp_path / "r", data, curriculum={"stages": [{"steps": 12, "max_subjects": 4}]},
                                      run={"checkpoint_every": 100}))
    with one_thread():
        result = train(cfg, resume="never", progress=False)
    err = capsys.readouterr().err
    assert result.step == 12 and f"skipping sample '{broken.id}' (index.jsonl line 1)" in err
    assert err.count(f"skipping sample '{broken.id}'") == 1


def _lora_tensors(path):
    from sigmascene.model.lora import read_sigma_lora

    return read_sigma_lora(path)[0]


@pytest.mark.slow
def test_lora_init_continues_a_finished_lora_instead_of_a_fresh_one(trained, tmp_path):
    cfg, result = trained
    start = _lora_tensors(result.lora)
    one_step = [{"steps": 1, "max_subjects": 4}]
    cont = validate_config(tiny_config(tmp_path / "cont", cfg.data_root, lora={"condition_mask": True,
                                       "init": str(result.lora)}, curriculum={"stages": one_step},
                                       optim={"optimizer": "adamw", "lr": 1e-9, "warmup_steps": 0}))
    with one_thread():
        out = train(cont, resume="never", progress=False)
    got = _lora_tensors(out.lora)
    assert got.keys() == start.keys()
    assert all(torch.allclose(got[k], start[k], atol=1e-6) for k in start)  # one step at lr 1e-9 moves nothing
    fresh_b = [v for k, v in _lora_tensors(out.lora).items() if k.endswith("lora_B.weight")]
    assert any(v.abs().max() > 1e-4 for v in fresh_b)  # peft's fresh B is zero: these came from the init file


@pytest.mark.slow
@pytest.mark.parametrize("init, message", [("missing.safetensors", "does not exist"), (None, "has rank 4")])
def test_lora_init_refuses_a_missing_file_or_another_rank(trained, tmp_path, init, message):
    cfg, result = trained
    bad = validate_config(tiny_config(tmp_path / "bad", cfg.data_root, lora={
        "init": str(tmp_path / init) if init else str(result.lora), "rank": 8, "alpha": 8.0}))
    with one_thread(), pytest.raises(SigmaError, match=message):
        train(bad, resume="never", progress=False)


def test_lr_factor_warms_up_then_holds_or_decays_to_zero_at_the_last_step():
    from sigmascene.train.loop import lr_factor

    assert [lr_factor(4, "constant", 10, s) for s in (0, 3, 9)] == [0.25, 1.0, 1.0]
    linear = [lr_factor(4, "linear", 10, s) for s in range(10)]
    assert linear[:4] == [0.25, 0.5, 0.75, 1.0] and linear[-1] == 0.0
    assert all(a > b for a, b in zip(linear[4:], linear[5:]))
    cosine = [lr_factor(0, "cosine", 10, s) for s in range(10)]
    assert cosine[0] > 0.97 and abs(cosine[-1]) < 1e-12 and all(a > b for a, b in zip(cosine, cosine[1:]))
