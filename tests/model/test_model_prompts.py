"""Prompt modes and `@name` rewriting, the two prompt forms SIGMA-GEN was trained on."""

import pytest

from sigmascene import Scene, box2d
from sigmascene.errors import SigmaError
from sigmascene.scene.prompts import build_prompt, format_prompt, resolve_mode, rewrite_mentions


def scene(prompt="a kitchen with @red_chair", compose=None):
    s = Scene(canvas=(64, 64), prompt=prompt, compose=compose)
    s.add_subject("red_chair", "a.png", box2d(0, 0, 0.5, 0.5))
    s.add_subject("dog", "b.png", box2d(0.5, 0.5, 1, 1), caption="a small corgi")
    return s


def test_auto_uses_compose_when_there_is_one():
    assert resolve_mode(scene()) == "background"
    assert resolve_mode(scene(compose="@dog sleeps")) == "full"
    assert build_prompt(scene(compose="@dog sleeps")) == "Place these subjects to compose: a small corgi sleeps"


def test_background_mode_wraps_the_prompt_and_names_become_words():
    assert build_prompt(scene(compose="x"), "background") == "Place these subjects in a kitchen with red chair"


def test_full_mode_without_compose_is_an_error():
    with pytest.raises(SigmaError, match="needs a `compose"):
        build_prompt(scene(), "full")
    with pytest.raises(SigmaError, match="unknown prompt mode"):
        build_prompt(scene(), "fancy")


def test_caption_article_is_not_doubled():
    assert build_prompt(scene(compose="a @dog on a @red_chair")) == \
        "Place these subjects to compose: a small corgi on a red chair"


def test_unknown_mention_is_located_and_suggests_a_name():
    with pytest.raises(SigmaError) as err:
        rewrite_mentions("with @dgo", {"dog": "a dog"})
    assert "did you mean 'dog'?" in err.value.format()


def test_empty_background_and_whitespace():
    assert format_prompt("background", "  ") == "Place these subjects in the scene"
    assert format_prompt("background", "a  sunny\n beach") == "Place these subjects in a sunny beach"
