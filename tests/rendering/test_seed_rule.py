"""One seed rule on every front: the language's (a whole number from 0 to 2**53). The scene statement, the
Python Scene, `render --seed`, the editor's Render button and `sigmascene.render(seed=)` accept and refuse the
same seeds, with the same words."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sigmascene
from sigmascene.cli import app
from sigmascene.errors import SigmaError
from sigmascene.rendering.plan import resolve_seeds
from sigmascene.rendering.request import RenderRequest
from sigmascene.scene import MAX_SEED, MIN_SEED, Scene, seed_problem

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BAD = [-1, MAX_SEED + 1, 2**63, 2**64 + 5]
GOOD = [MIN_SEED, 7, MAX_SEED]
TEXT = 'sigma 1\ncanvas 64 x 64\nseed {}\nsubject a {{ ref "a.png" box2d (0, 0, 1, 1) }}\n'


@pytest.fixture
def toy(env):
    shutil.copy(EXAMPLES / "toy_room.sigma", env / "toy_room.sigma")
    shutil.copytree(EXAMPLES / "toy", env / "toy")
    return env / "toy_room.sigma"


def test_the_rule_is_the_languages():
    assert (MIN_SEED, MAX_SEED) == (0, 2**53)
    for s in GOOD:
        assert seed_problem(s) is None
        assert sigmascene.loads(TEXT.format(s)).seed == s
        assert Scene(seed=s).seed == s
    for s in BAD:
        assert seed_problem(s)
        with pytest.raises(SigmaError):
            sigmascene.loads(TEXT.format(s))
        with pytest.raises(SigmaError):
            Scene(seed=s)


@pytest.mark.parametrize("seed", BAD)
def test_every_front_refuses_a_seed_outside_it_with_the_same_words(toy, seed):
    why = seed_problem(seed)
    scene = sigmascene.load(toy)
    with pytest.raises(SigmaError, match=why.replace("+", r"\+")):  # Python
        sigmascene.render(scene, seed=seed)
    with pytest.raises(SigmaError, match=why.replace("+", r"\+")):
        sigmascene.render(scene, seed=[3, seed])
    res = CliRunner().invoke(app, ["render", str(toy), "--seed", str(seed), "-o", str(toy.parent / "x.png")])
    assert res.exit_code == 1 and why in res.output and "Traceback" not in res.output  # CLI
    pytest.importorskip("httpx")
    from starlette.testclient import TestClient

    from sigmascene.editor import create_app

    client = TestClient(create_app(toy, "t", extra_hosts={"testserver"}))
    r = client.post("/api/render", json={"seed": seed, "steps": 1}, headers={"X-Sigmascene-Token": "t"})
    assert r.status_code == 400 and r.json()["error"] == why  # editor
    assert not (toy.parent / "renders").exists()


@pytest.mark.parametrize("seed", GOOD)
def test_every_front_accepts_a_seed_inside_it(seed):
    assert resolve_seeds(RenderRequest(seed=seed), Scene()) == (seed,)


def test_a_seed_that_is_not_a_json_whole_number_is_refused_by_the_editor(toy):
    pytest.importorskip("httpx")
    from starlette.testclient import TestClient

    from sigmascene.editor import create_app

    client = TestClient(create_app(toy, "t", extra_hosts={"testserver"}))
    for bad in ("12", 1.5, True):
        r = client.post("/api/render", json={"seed": bad}, headers={"X-Sigmascene-Token": "t"})
        assert r.status_code == 400 and "seed" in r.json()["error"], r.json()
    assert not (toy.parent / "renders").exists()
