"""The flow-matching objective: Flux's timestep shift, and the optional subject-token loss weight."""

import numpy as np
import pytest
import torch
from train_support import synthetic_dataset, tiny_config

from sigmascene.errors import SigmaError
from sigmascene.train.config_file import validate_config
from sigmascene.train.objective import Batch, flow_matching_loss, sample_timesteps, subject_token_weights


def test_flux_shift_moves_larger_images_to_higher_noise():
    def g():
        return torch.Generator().manual_seed(0)
    small = sample_timesteps(4000, scheme="flux", n_tokens=64, generator=g())
    large = sample_timesteps(4000, scheme="flux", n_tokens=4096, generator=g())
    plain = sample_timesteps(4000, scheme="logit_normal", n_tokens=4096, generator=g())
    assert ((small > 0) & (small < 1)).all() and ((large > 0) & (large < 1)).all()
    assert abs(float(plain.mean()) - 0.5) < 0.02
    assert float(large.mean()) > float(small.mean()) > float(plain.mean())


def test_subject_weights_follow_the_routing_channel_token_by_token_row_major():
    control = np.zeros((8, 12, 3), np.uint8)  # 2 x 3 tokens of 4 px
    control[0:4, 4:8, 0] = 10  # token (0, 1) fully covered
    control[4:8, 8:10, 0] = 20  # token (1, 2) half covered
    control[:, :, 1] = 30  # the descending channel must not count
    w = subject_token_weights(control, 4, 5.0)
    assert w.shape == (1, 6, 1)
    assert w[0, :, 0].tolist() == [1.0, 5.0, 1.0, 1.0, 1.0, 3.0]


class _Echo(torch.nn.Module):
    """A 'model' whose velocity is a fixed tensor, so the loss is a known function of the weights."""

    def __init__(self, v):
        super().__init__()
        self.v = v

    def forward(self, **kw):
        return self.v


def _batch(weight=None):
    x0 = torch.zeros(1, 4, 2)
    return Batch(x0=x0, cond=torch.zeros(1, 1, 2), embeds=torch.zeros(1, 1, 2), pooled=torch.zeros(1, 2),
                 ids={"txt": None, "x": None, "cond": None}, n_tokens=4, weight=weight)


def test_weight_one_is_the_plain_mse_and_a_subject_weight_counts_subject_errors_more():
    v = torch.tensor([[[1.0, 1.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])  # error only on token 0
    noise = torch.zeros(1, 4, 2)
    t = torch.tensor([0.5])
    kw = dict(noise=noise, t=t, guidance=None, condition_mask=False)
    plain = flow_matching_loss(_Echo(v), _batch(), **kw)
    ones = flow_matching_loss(_Echo(v), _batch(torch.ones(1, 4, 1)), **kw)
    assert torch.isclose(plain, torch.tensor(0.25)) and torch.isclose(ones, plain)
    on_subject = flow_matching_loss(_Echo(v), _batch(torch.tensor([[[4.0], [1.0], [1.0], [1.0]]])), **kw)
    on_background = flow_matching_loss(_Echo(v), _batch(torch.tensor([[[1.0], [4.0], [1.0], [1.0]]])), **kw)
    assert torch.isclose(on_subject, torch.tensor(4 / 7)) and torch.isclose(on_background, torch.tensor(1 / 7))


def test_subject_weight_below_one_is_refused(tmp_path):
    with pytest.raises(SigmaError, match="subject_weight"):
        validate_config(tiny_config(tmp_path / "r", tmp_path / "d", loss={"subject_weight": 0.5}))


def test_a_run_with_subject_weight_trains(tmp_path_factory):
    from sigmascene.train.loop import train

    data = synthetic_dataset(tmp_path_factory)
    run = tmp_path_factory.mktemp("run") / "w"
    cfg = validate_config(tiny_config(run, data, loss={"subject_weight": 4.0},
                                      curriculum={"stages": [{"steps": 3, "max_subjects": 4}]}))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # toy matrices: more threads only add overhead
    try:
        result = train(cfg, resume="never", progress=False)
    finally:
        torch.set_num_threads(threads)
    assert result.step == 3 and np.isfinite(result.losses).all()
