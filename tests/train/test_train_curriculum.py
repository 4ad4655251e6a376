"""The curriculum: stage boundaries, eligibility, and a sampler that is sharded, exhaustive and resumable."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigmascene.errors import SigmaError
from sigmascene.train.curriculum import PAPER_STAGES, Curriculum, SamplerState, Stage, StageSampler


def test_paper_stages_switch_at_30k_and_50k():
    c = Curriculum(PAPER_STAGES)
    assert c.total_steps == 70_000
    assert [c.stage_index(s) for s in (0, 29_999, 30_000, 49_999, 50_000, 69_999, 70_000)] == [0, 0, 1, 1, 2, 2, 2]


def test_paper_stage_subject_ranges():
    counts = list(range(1, 11))
    c = Curriculum(PAPER_STAGES)
    assert [counts[i] for i in c.eligible(0, counts)] == [1, 2, 3, 4]
    assert [counts[i] for i in c.eligible(1, counts)] == list(range(3, 11))
    assert [counts[i] for i in c.eligible(2, counts)] == list(range(5, 11))


def test_a_stage_without_samples_fails_before_training():
    with pytest.raises(SigmaError, match=r"no sample for curriculum stage 3/3 \(>=5 subjects\)"):
        StageSampler(Curriculum(PAPER_STAGES), [1, 2, 3, 4], seed=0)


def test_sampler_only_draws_what_the_current_stage_admits():
    counts = [1, 2, 3, 4, 5, 6, 7] * 3
    c = Curriculum(PAPER_STAGES)
    s = StageSampler(c, counts, seed=1)
    for stage in (0, 1, 2, 0):
        drawn = [counts[s.next(stage)] for _ in range(40)]
        assert all(c.stages[stage].admits(n) for n in drawn)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), world=st.integers(1, 4), seed=st.integers(0, 1000))
def test_ranks_together_cover_every_eligible_sample_each_epoch(n, world, seed):
    counts = [1] * n
    c = Curriculum([Stage(steps=10)])
    samplers = [StageSampler(c, counts, seed=seed, rank=r, world=world) for r in range(world)]
    per_rank = -(-n // world)
    drawn = [[sm.next(0) for _ in range(per_rank)] for sm in samplers]
    assert set().union(*map(set, drawn)) == set(range(n))
    if n >= world:  # disjoint slices, up to the wrap-around that evens out their lengths
        assert sum(len(set(d)) for d in drawn) >= n
    assert len({(sm.state.epoch, sm.state.position) for sm in samplers}) == 1


@settings(max_examples=30, deadline=None)
@given(k=st.integers(0, 60), seed=st.integers(0, 100))
def test_sampler_resumed_from_its_state_continues_identically(k, seed):
    counts = [1, 2, 3, 5, 6, 4, 2, 7, 1]
    c = Curriculum([Stage(steps=20, max_subjects=4), Stage(steps=20, min_subjects=3)])
    a = StageSampler(c, counts, seed=seed)
    stages = [c.stage_index(i) for i in range(80)]
    for i in range(k):
        a.next(stages[i])
    b = StageSampler(c, counts, seed=seed, state=SamplerState.from_json(a.state.to_json()))
    assert [a.next(s) for s in stages[k:]] == [b.next(s) for s in stages[k:]]


def test_entering_a_stage_starts_its_first_epoch():
    c = Curriculum([Stage(steps=3), Stage(steps=3, min_subjects=2)])
    s = StageSampler(c, [1, 2, 2, 1], seed=0)
    s.next(0), s.next(0), s.next(0)
    s.next(1)
    assert s.state.to_json() == {"stage": 1, "epoch": 0, "position": 1}
