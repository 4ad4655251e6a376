"""Metric plumbing on constructed inputs, with tiny random-weight backbones loaded from local folders."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sigmascene.errors import SigmaError
from sigmascene.eval.metrics import load_suite, metric_keys
from sigmascene.eval.metrics.depth import align_scale_shift, depth_mse
from sigmascene.eval.metrics.identity import crop_subject, load_reference
from sigmascene.testing.tiny_eval import save_tiny_weights
from sigmascene.eval.weights import Weights


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    weights = Weights.from_toml(save_tiny_weights(tmp_path_factory.mktemp("weights")))
    return weights, load_suite(weights)


def _image(seed: int, h: int = 48, w: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)
    return np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))  # blocky, so structure survives resizing


def _shuffled(im: np.ndarray, seed: int = 1) -> np.ndarray:
    flat = im.reshape(-1, 3).copy()
    np.random.default_rng(seed).shuffle(flat)
    return flat.reshape(im.shape)


@pytest.mark.parametrize("attr", ["dino", "siglip_i"])
def test_identical_crop_gives_the_maximum_identity_score(tiny, attr):
    metric = getattr(tiny[1], attr)
    im = _image(0)
    scores = metric.score([im, im], [("same", im), ("other", _image(7))])
    assert scores[0] == pytest.approx(100.0, abs=1e-3)
    assert scores[0] >= scores[1]
    assert scores.max() <= 100.0


@pytest.mark.parametrize("attr", ["dino", "siglip_i"])
def test_shuffled_reference_lowers_the_identity_score(tiny, attr):
    metric = getattr(tiny[1], attr)
    im = _image(3)
    same, shuffled = metric.score([im, im], [("a", im), ("b", _shuffled(im))])
    assert shuffled < same - 1e-3


def test_reference_embeddings_are_cached_by_key(tiny):
    metric = tiny[1].dino
    im = _image(4)
    metric.score([im], [("cached-ref", im)])
    assert "cached-ref" in metric._ref_cache
    # the cache key wins over the pixels: a second call with the same key reuses the first embedding
    again = metric.score([im], [("cached-ref", _shuffled(im))])
    assert again[0] == pytest.approx(100.0, abs=1e-3)


def test_siglip_text_embeddings_are_unit_vectors_and_deterministic(tiny):
    text = tiny[1].siglip_t
    a = text.embed(["a corgi on a rug", "a lamp"])
    b = text.embed(["a corgi on a rug"])
    assert a.shape[0] == 2
    assert np.allclose(a.norm(dim=-1).numpy(), 1.0, atol=1e-5)
    assert np.allclose(a[0].numpy(), b[0].numpy(), atol=1e-5)


def test_clip_iqa_is_a_probability_times_100(tiny):
    vals = tiny[1].clip_iqa.score([_image(1), _image(2, 64, 64)])
    assert vals.shape == (2,)
    assert np.all((vals >= 0) & (vals <= 100))


def test_clip_iqa_matches_torchmetrics_compute_step(tiny):
    """Same arithmetic as torchmetrics' CLIP-IQA, given the same image features and prompt anchors."""
    tm = pytest.importorskip("torchmetrics.functional.multimodal.clip_iqa")
    iqa = tiny[1].clip_iqa
    images = [_image(5), _image(6)]
    feats = iqa.embedder.embed(images)
    expected = tm._clip_iqa_compute(feats, iqa.anchors, ["quality"]).numpy() * 100.0
    assert np.allclose(iqa.score(images), expected, atol=1e-4)


def test_depth_estimator_returns_inverse_depth_at_image_size(tiny):
    est = tiny[1].depth
    out = est.predict_inverse(_image(2, 40, 56))
    assert out.shape == (40, 56)
    assert np.isfinite(out).all()


# -- depth MSE ----------------------------------------------------------------------------------------------
def _control(h: int = 32, w: int = 32) -> np.ndarray:
    """Two subjects with a depth ramp each: subject 1 (intensity 10) left, subject 2 (20) right."""
    c = np.zeros((h, w, 3), np.uint8)
    c[4:28, 2:14, 0] = 10
    c[4:28, 18:30, 0] = 20
    c[..., 1] = c[..., 0]
    ramp = np.linspace(40, 250, w).round().astype(np.uint8)
    c[..., 2] = np.where(c[..., 0] > 0, ramp[None, :], 0)
    return c


@given(scale=st.floats(0.01, 100), shift=st.floats(-500, 500))
@settings(max_examples=40, deadline=None)
def test_depth_mse_is_zero_for_a_perfect_depth_at_any_scale_and_shift(scale, shift):
    control = _control()
    pred = control[..., 2].astype(np.float64) * scale + shift
    pred[control[..., 0] == 0] = 12345.0  # background estimate must not matter
    res = depth_mse(pred, control, ["left", "right"])
    assert res is not None
    assert res.mse == pytest.approx(0.0, abs=1e-6)
    assert set(res.per_subject) == {"left", "right"}
    assert res.pixels == int(((control[..., 0] > 0) & (control[..., 2] > 0)).sum())


def test_inverted_depth_is_not_rescued_by_a_negative_scale():
    control = _control()
    b = control[..., 2].astype(np.float64)
    res = depth_mse(-b, control, ["left", "right"])
    valid = (control[..., 0] > 0) & (control[..., 2] > 0)
    # with s >= 0 the best fit of an anti-correlated estimate is the constant mean: MSE = variance
    assert res.scale == 0.0
    assert res.mse == pytest.approx(float(b[valid].var()), rel=1e-9)


def test_depth_mse_puts_error_on_the_subject_that_has_it():
    control = _control()
    pred = control[..., 2].astype(np.float64)
    pred[control[..., 0] == 20] += np.random.default_rng(0).normal(0, 30, (control[..., 0] == 20).sum())
    res = depth_mse(pred, control, ["left", "right"])
    assert res.per_subject["right"] > 10 * res.per_subject["left"]
    assert res.mse > 0


def test_depth_mse_does_not_apply_without_structure():
    control = _control()
    control[..., 2] = 0  # plain 2D boxes: no depth given
    assert depth_mse(np.ones(control.shape[:2]), control, ["left", "right"]) is None


def test_depth_mse_rejects_a_mis_sized_estimate():
    with pytest.raises(ValueError):
        depth_mse(np.ones((8, 8)), _control(), ["a", "b"])


@given(st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=40, unique=True),
       st.floats(0.001, 50), st.floats(-100, 100))
@settings(max_examples=60, deadline=None)
def test_align_scale_shift_recovers_an_affine_map(xs, s, t):
    x = np.asarray(xs)
    assume(np.ptp(x) > 1e-3)  # values that differ only below float precision of s·x + t carry no scale
    got_s, got_t = align_scale_shift(x, s * x + t)
    assert got_s == pytest.approx(s, rel=1e-6, abs=1e-9)
    assert np.allclose(got_s * x + got_t, s * x + t, atol=1e-6 * (1 + abs(s * x).max() + abs(t)))


# -- crops and references -----------------------------------------------------------------------------------
def test_crop_is_the_region_bbox_with_outside_pixels_filled():
    im = np.full((10, 12, 3), 7, np.uint8)
    region = np.zeros((10, 12), bool)
    region[2:6, 3:8] = True
    region[2, 3] = False
    crop = crop_subject(im, region)
    assert crop.shape == (4, 5, 3)
    assert (crop[0, 0] == 255).all() and (crop[1, 1] == 7).all()
    assert crop_subject(im, np.zeros((10, 12), bool)) is None
    kept = crop_subject(im, region, fill=None)
    assert (kept == 7).all()


def test_transparent_reference_is_composited_on_white(tmp_path):
    from PIL import Image

    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[1:3, 1:3] = (200, 10, 10, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "ref.png")
    out = load_reference(tmp_path / "ref.png")
    assert out.shape == (4, 4, 3)
    assert (out[0, 0] == 255).all() and tuple(out[1, 1]) == (200, 10, 10)
    with pytest.raises(SigmaError, match="does not exist"):
        load_reference(tmp_path / "missing.png")


# -- weights ------------------------------------------------------------------------------------------------
def test_missing_weights_skip_with_one_line_naming_the_flag():
    suite = load_suite(Weights())
    assert suite.active() == []
    assert set(suite.skipped) == set(metric_keys(None))
    for line in suite.skipped.values():
        assert "\n" not in line and "skipped" in line
    assert "--dino DIR" in suite.skipped["dino_i"]
    assert "--siglip DIR" in suite.skipped["siglip_t"]
    assert "--depth DIR" in suite.skipped["depth_mse"]
    assert "--clip DIR" in suite.skipped["clip_iqa"]
    assert "MUSIQ" in suite.skipped["musiq"]


def test_partial_weights_load_only_what_is_given(tiny):
    weights, _ = tiny
    suite = load_suite(Weights(dino=weights.dino), only=["dino_i", "clip-iqa"])
    assert suite.active() == ["dino_i"]
    assert set(suite.skipped) == {"clip_iqa"}
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_a_given_but_absent_folder_is_an_error_not_a_download(tmp_path):
    with pytest.raises(SigmaError, match="does not exist"):
        load_suite(Weights(dino=tmp_path / "nope"), only=["dino_i"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SigmaError, match="config.json"):
        load_suite(Weights(siglip=tmp_path / "empty"), only=["siglip_t"])


def test_a_folder_of_the_wrong_model_kind_is_refused(tiny):
    weights, _ = tiny
    with pytest.raises(SigmaError, match="not an image-text model"):
        load_suite(Weights(siglip=weights.dino), only=["siglip_i"])


def test_weights_toml_resolves_relative_paths_and_rejects_unknown_keys(tmp_path):
    (tmp_path / "eval.toml").write_text('[weights]\ndino = "models/dino"\nclip = ""\n')
    w = Weights.from_toml(tmp_path / "eval.toml")
    assert w.dino == tmp_path / "models" / "dino" and w.clip is None
    (tmp_path / "bad.toml").write_text('[weights]\ndinov2 = "x"\n')
    with pytest.raises(SigmaError, match="unknown backbone 'dinov2'") as err:
        Weights.from_toml(tmp_path / "bad.toml")
    assert "did you mean 'dino'" in err.value.format()
    (tmp_path / "broken.toml").write_text("[weights\n")
    with pytest.raises(SigmaError):
        Weights.from_toml(tmp_path / "broken.toml")


def test_flags_override_the_config_file(tmp_path):
    base = Weights.from_mapping({"dino": "a", "clip": "c"}, base=tmp_path, origin="eval.toml")
    merged = base.merged(Weights.from_mapping({"dino": str(tmp_path / "b")}, origin="--dino"))
    assert merged.dino == tmp_path / "b" and merged.clip == tmp_path / "c"
    assert merged.source["dino"] == "--dino"


def test_unknown_metric_name_gets_a_hint():
    with pytest.raises(SigmaError) as err:
        metric_keys(["dino"])
    assert "dino_i" in err.value.format()


def test_musiq_loads_pyiqa_from_the_local_checkpoint_only(tmp_path, monkeypatch):
    """pyiqa cannot be installed here (it needs torchvision), so a stand-in module checks the adapter's contract:
    the local file goes in as `pretrained_model_path` (pyiqa then never fetches its release URL) and images go
    in as 1×3×H×W floats in [0, 1]."""
    import sys
    import types

    import torch

    from sigmascene.eval.metrics.quality import Musiq
    from sigmascene.eval.weights import MissingWeights

    seen = {}

    def create_metric(name, **kwargs):
        seen.update(kwargs, name=name)

        def metric(x):
            assert x.shape[:2] == (1, 3) and x.dtype == torch.float32 and 0.0 <= float(x.min()) <= float(x.max()) <= 1.0
            return torch.tensor([float(x.mean()) * 100.0])

        return metric

    monkeypatch.setitem(sys.modules, "pyiqa", types.SimpleNamespace(create_metric=create_metric))
    with pytest.raises(MissingWeights, match="--musiq"):
        Musiq.from_path(None)
    with pytest.raises(SigmaError, match="does not exist"):
        Musiq.from_path(tmp_path / "missing.pth")
    ckpt = tmp_path / "musiq_koniq.pth"
    ckpt.write_bytes(b"weights")
    musiq = Musiq.from_path(ckpt, device="cpu")
    assert seen["name"] == "musiq" and seen["pretrained_model_path"] == str(ckpt) and seen["as_loss"] is False
    im = np.full((20, 30, 3), 51, np.uint8)
    assert musiq.score([im, im]).tolist() == pytest.approx([20.0, 20.0], abs=1e-4)


def test_musiq_without_pyiqa_is_one_line_naming_what_is_missing(monkeypatch, tmp_path):
    import sys

    from sigmascene.eval.metrics.quality import Musiq
    from sigmascene.eval.weights import MissingWeights

    monkeypatch.setitem(sys.modules, "pyiqa", None)  # import fails
    ckpt = tmp_path / "m.pth"
    ckpt.write_bytes(b"x")
    with pytest.raises(MissingWeights) as err:
        Musiq.from_path(ckpt)
    assert "pyiqa" in str(err.value) and "torchvision" in str(err.value) and "\n" not in str(err.value)
