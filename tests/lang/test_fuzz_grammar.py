"""The fuzz sweep as a CI test: 5,000 grammar-aware mutations of real scenes per run, each checked for every
promise of issue 18 (only SigmaError escapes; diagnostics located inside the file, quoting that line; fmt
idempotent and meaning-preserving; the compiled maps unchanged by fmt). `benchmarks/fuzz.py` runs 100,000."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigmascene.testing.fuzz import check_text, generate, generate_with, mutate, seed_texts, tokens

from repo_paths import EXAMPLES

DONORS = seed_texts(EXAMPLES)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.randoms(use_true_random=False))
def test_mutated_scenes_keep_every_promise(rng):
    text = generate_with(rng, DONORS)
    outcome = check_text(text, EXAMPLES, compile_maps=True)
    assert outcome.other is None, f"{outcome.other}\n--- input ---\n{text!r}"


def test_the_fuzzer_is_deterministic_and_mutates_by_token():
    assert generate(7, DONORS) == generate(7, DONORS)
    assert len({generate(i, DONORS) for i in range(50)}) > 40
    text = DONORS[0]
    assert "".join(tokens(text)) == text
    assert mutate(text, random.Random(1), DONORS) != text


def test_the_fuzz_checker_reports_a_broken_invariant():
    """The checker itself must catch what it claims to: a crash is reported, not raised."""
    bad = check_text("sigma 1\n", EXAMPLES)
    assert bad.other is None and not bad.accepted  # a clean rejection (no subject)
    ok = check_text('sigma 1\nsubject a { ref "refs/cat.png" box2d (0, 0, 1, 1) }\n', EXAMPLES, compile_maps=True)
    assert ok.accepted and ok.other is None


def test_the_sweep_accepts_a_useful_share_of_inputs():
    accepted = sum(check_text(generate(i, DONORS), EXAMPLES).accepted for i in range(200))
    assert accepted >= 10  # enough accepted inputs that fmt and the maps are exercised
