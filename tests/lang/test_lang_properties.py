"""Property tests: printing and re-parsing any valid Scene gives it back; fmt is idempotent; no input, however
mangled, produces anything but a clean SigmaError."""

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sigmascene
from sigmascene import SigmaError

from repo_paths import EXAMPLES
from strategies import scenes

EXAMPLE_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.sigma"))]
TOKENS = ["sigma", "1", "canvas", "x", "512", "subject", "a", "b", "{", "}", "(", ")", ",", "ref", '"r.png"',
          "box2d", "box3d", "center", "size", "yaw", "mask", "polygon", "mesh", "depth", "behind", "in_front_of",
          "param", "=", "$p", "deg", "px", "cm", "rad", "m", "#", "\n", "include", '"', "0.5", "-1", "1e400",
          "camera", "fov", "position", "look_at", "compose", '"@a"', "@", "\\", "\t", "é", "\x00"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_printing_then_parsing_gives_the_same_scene(scene):
    scene.validate_scene()
    text = sigmascene.dumps(scene)
    again = sigmascene.loads(text)
    assert again == scene
    assert sigmascene.dumps(again) == text  # fmt is idempotent


def _check_clean(text: str) -> None:
    try:
        scene = sigmascene.loads(text, file="<fuzz>", base_dir=EXAMPLES)
    except SigmaError as err:
        assert err.diagnostics and err.format()
        return
    # whatever parses must print and re-parse to the same scene
    assert sigmascene.loads(sigmascene.dumps(scene), base_dir=EXAMPLES) == scene


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXAMPLE_TEXTS), st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6),
                                                          st.sampled_from(TOKENS)), min_size=1, max_size=4))
def test_mutated_examples_only_ever_give_clean_errors(text, edits):
    for op, pos, tok in edits:
        i = pos % (len(text) + 1)
        if op == 0:
            text = text[:i] + tok + text[i:]
        elif op == 1:
            text = text[:i] + text[i + 1 + pos % 7:]
        elif op == 2:
            text = text[:i] + tok + text[i + len(tok):]
        else:  # swap two lines
            lines = text.split("\n")
            a, b = pos % len(lines), (pos // 7) % len(lines)
            lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
    _check_clean(text)


@settings(max_examples=700, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join)))
def test_random_text_only_ever_gives_clean_errors(text):
    _check_clean(text)


def test_fuzz_covers_every_statement_keyword():
    rng = random.Random(0)
    words = set(" ".join(EXAMPLE_TEXTS).split())
    for kw in ("sigma", "canvas", "seed", "prompt", "compose", "camera", "param", "include", "subject", "ref",
               "box2d", "box3d", "mask", "polygon", "mesh", "depth", "behind", "in_front_of"):
        assert kw in words or kw in TOKENS, kw
    assert rng.random() < 1
