"""Toy-world metrics: each one proven on constructed scenes and on real held-out synthetic samples — ground truth
scores near 100 %, shuffled identities or regions near chance — before it judges a model."""

from __future__ import annotations

import numpy as np
import pytest

from sigmascene.errors import SigmaError
from sigmascene.eval.toyworld.descriptor import histogram, reference_histogram, similarity
from sigmascene.eval.toyworld.metrics import SceneScore, scene_regions, score_image
from sigmascene.eval.toyworld.validate import Validation, foreign_identities, validate_scene, validation_rows
from sigmascene.eval.toyworld.world import (HELDOUT_BASE, ToyScene, check_disjoint, load_toy_scene, make_worlds,
                                            parse_subjects)

RED, BLUE, GREEN, ROOM = (200, 30, 30), (30, 60, 210), (30, 150, 50), (150, 140, 130)


def _identity(colour, size=32):
    im = np.full((size, size, 3), 255, np.uint8)
    im[8:24, 8:24] = colour
    return im


def _constructed() -> ToyScene:
    """Red (near) overlapping blue (far), plus a separate green; a grey-brown room behind them."""
    h = w = 64
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = ROOM
    full = [np.zeros((h, w), bool) for _ in range(3)]
    full[0][10:30, 10:30] = True  # red, near
    full[1][20:40, 20:40] = True  # blue, far, partly behind red
    full[2][44:60, 44:60] = True  # green, alone
    visible = [full[0].copy(), full[1] & ~full[0], full[2].copy()]
    for m, c in ((visible[1], BLUE), (visible[0], RED), (visible[2], GREEN)):
        img[m] = c
    return ToyScene(case_id="c", n=3, sample=None, root=None, image=img, visible=visible, full=full,
                    distance=[2.0, 3.0, 2.5], identities=[_identity(RED), _identity(BLUE), _identity(GREEN)],
                    names=["red", "blue", "green"])


def _rates(score: SceneScore) -> dict:
    return {k: getattr(score, k).rate for k in ("identity", "occlusion", "placement")}


def test_descriptor_ignores_shading_but_separates_hues():
    lit = np.tile(np.array([[200, 40, 40]], np.uint8), (50, 1))
    shaded = (lit * 0.45).astype(np.uint8)
    blue = np.tile(np.array([[40, 60, 200]], np.uint8), (50, 1))
    assert similarity(histogram(lit), histogram(shaded)) > 0.95
    assert similarity(histogram(lit), histogram(blue)) < 0.05


def test_reference_histogram_ignores_the_white_backdrop():
    assert similarity(reference_histogram(_identity(RED)), histogram(np.array([RED], np.uint8))) > 0.99


def test_ground_truth_of_a_constructed_scene_scores_every_decision():
    scene = _constructed()
    score = score_image(scene.image, scene)
    assert (score.identity.total, score.occlusion.total, score.placement.total) == (3, 1, 3)
    assert _rates(score) == {"identity": 1.0, "occlusion": 1.0, "placement": 1.0}


def test_swapped_references_fail_identity_and_occlusion():
    scene = _constructed()
    score = score_image(scene.image, scene, refs=[1, 0, 2])  # red and blue trade identity images
    assert score.identity.hits == 1  # only green keeps its own reference
    assert score.occlusion.rate == 0.0


def test_an_image_where_the_far_subject_shows_in_front_fails_occlusion():
    scene = _constructed()
    wrong = scene.image.copy()
    wrong[scene.full[1]] = BLUE  # blue painted over red where they overlap
    assert score_image(wrong, scene).occlusion.rate == 0.0


def test_swapped_regions_fail_placement():
    scene = _constructed()
    score = score_image(scene.image, scene, places=[2, 0, 1])
    assert score.placement.rate == 0.0


def test_a_subject_painted_beside_its_region_fails_placement():
    scene = _constructed()
    moved = scene.image.copy()
    moved[scene.full[2]] = ROOM
    moved[44:60, 2:18] = GREEN  # green drawn in the background band, not where the file puts it
    score = score_image(moved, scene)
    assert score.placement.hits == 2


def test_renders_of_another_size_are_resized_to_the_ground_truth():
    from PIL import Image

    scene = _constructed()
    big = Image.fromarray(scene.image).resize((128, 128), Image.NEAREST)
    assert _rates(score_image(big, scene)) == {"identity": 1.0, "occlusion": 1.0, "placement": 1.0}


def test_a_darker_render_is_not_punished_for_its_exposure():
    scene = _constructed()
    scene.identities.append(_identity((235, 235, 235)))  # a white subject: exposure would turn it grey
    scene.full.append(np.zeros((64, 64), bool))
    scene.full[3][2:8, 40:60] = True
    scene.visible.append(scene.full[3].copy())
    scene.distance.append(2.0)
    scene.image[scene.full[3]] = (235, 235, 235)
    dark = (scene.image * 0.6).astype(np.uint8)
    assert score_image(dark, scene).identity.rate == 1.0


@pytest.mark.parametrize("text", ["5-2", "0-3", "x", "1-30", ""])
def test_bad_subject_ranges_are_clean_errors(text):
    with pytest.raises(SigmaError):
        parse_subjects(text)


def test_subject_ranges_parse():
    assert parse_subjects("1-4") == [1, 2, 3, 4]
    assert parse_subjects("7") == [7]
    assert parse_subjects("5,1,2") == [1, 2, 5]


def test_eval_worlds_that_a_training_run_used_are_refused():
    with pytest.raises(SigmaError, match="not held out"):
        check_disjoint([1, 2, 3], 100, train_seeds=[0, 1, 102])
    check_disjoint([1, 2, 3], HELDOUT_BASE, train_seeds=range(1000))


def test_the_demo_training_world_is_refused_whatever_its_sample_indices():
    with pytest.raises(SigmaError, match="not held out"):
        check_disjoint([1, 2], -1, train_seeds=range(3000), train_world_seed=0)
    check_disjoint([1, 2], HELDOUT_BASE, train_seeds=range(3000), train_world_seed=0)


# -- real held-out synthetic samples ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy_scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("toyworld")
    worlds = make_worlds(root, [3, 6], count=12, size=96)
    return [load_toy_scene(s, root / "world" / f"n{n:02d}", n, s.id) for n, ss in worlds.items() for s in ss]


@pytest.mark.slow
def test_worlds_keep_exactly_n_subjects(toy_scenes):
    assert sorted({t.n for t in toy_scenes}) == [3, 6]
    assert all(len(t.visible) == t.n for t in toy_scenes)
    assert len(toy_scenes) == 24


def test_rerendered_full_silhouettes_reproduce_the_visible_masks(toy_scenes):
    for t in toy_scenes:
        label = np.full(t.image.shape[:2], -1)
        for k in np.argsort(t.distance)[::-1]:  # far to near: nearer silhouettes paint over
            label[t.full[k]] = k
        for k, vis in enumerate(t.visible):
            assert not (vis & ~t.full[k]).any()
            assert ((label == k) == vis).mean() > 0.995


def test_real_ground_truth_scores_near_100_and_shuffled_near_chance(toy_scenes):
    v = Validation()
    rng = np.random.default_rng(0)
    pool = [t.identities for t in toy_scenes]
    for i, t in enumerate(toy_scenes):
        truth, shuffled = validate_scene(t, scene_regions(t), foreign_identities(pool, i, t.n, rng))
        v.add(t.n, truth, shuffled, truth.identity.total, t.n)
    row = [r for r in validation_rows(v) if r["N"] == "all"][0]
    assert row["identity_truth"] >= 88 and row["placement_truth"] >= 92
    assert row["occlusion_decisions"] >= 5 and row["occlusion_truth"] >= 80
    assert abs(row["identity_shuffled"] - row["identity_chance"]) <= 12
    assert abs(row["placement_shuffled"] - 50) <= 20 and abs(row["occlusion_shuffled"] - 50) <= 25


def test_foreign_identities_never_come_from_the_scene_itself():
    pool = [["a1", "a2"], ["b1"], ["c1", "c2"]]
    rng = np.random.default_rng(1)
    for _ in range(20):
        got = foreign_identities(pool, 0, 2, rng)
        assert len(set(got)) == 2 and not set(got) & {"a1", "a2"}
    assert foreign_identities([["a"], ["b"]], 0, 2, rng) is None


@pytest.mark.slow
def test_the_demo_vae_round_trip_sits_between_ground_truth_and_chance(toy_scenes):
    """Ground truth through the demo model's VAE at its 64 px canvas: the ceiling of that model. It loses some
    identity decisions to the small canvas and VAE, but must stay far above chance (a broken encode/decode —
    wrong scaling, transposed tokens — lands at chance)."""
    from sigmascene import demo
    from sigmascene.eval.toyworld.validate import vae_round_trip

    if not demo.demo_available():
        pytest.skip("the demo weights are not built in this checkout")
    pipe = demo.load_demo_pipeline("cpu")
    v = Validation()
    for t in toy_scenes:
        out = vae_round_trip(pipe, t.image, 64)
        assert out.size == (64, 64)
        truth = score_image(t.image, t, scene_regions(t))
        v.add(t.n, truth, SceneScore(), truth.identity.total, t.n)
        v.add_round_trip(t.n, score_image(out, t, scene_regions(t)))
    row = [r for r in validation_rows(v) if r["N"] == "all"][0]
    assert row["identity_chance"] + 25 <= row["identity_vae"] <= row["identity_truth"] + 5
    assert row["placement_vae"] >= 70


def test_validation_rows_leave_the_vae_column_empty_without_a_model(toy_scenes):
    v = Validation()
    t = toy_scenes[0]
    truth = score_image(t.image, t, scene_regions(t))
    v.add(t.n, truth, SceneScore(), truth.identity.total, t.n)
    assert all(r["identity_vae"] is None for r in validation_rows(v))
