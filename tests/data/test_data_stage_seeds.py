"""A data-build stage's seeds belong to its name: inserting, removing or reordering stages re-seeds no other
stage, and the six original stages keep the seeds they had when the salt was their position (so datasets built
before stay byte-identical on resume)."""

import numpy as np
from hypothesis import given, settings, strategies as st

from sigmascene.data.recipe.config import STAGE_ORDER, BuildConfig
from sigmascene.data.recipe.plan import Plan, stage_salt, stage_seed


def test_original_stages_keep_their_positional_seeds():
    for k, name in enumerate(STAGE_ORDER):
        old = int(np.random.SeedSequence([5, 17, 0x51 + k]).generate_state(1)[0])
        assert stage_seed(5, 17, name) == old


def test_inserting_a_stage_changes_no_other_stage_seed():
    cfg = BuildConfig()
    before = Plan(cfg, "unused", refs={}).seeds(3)
    # a new stage between image and segment, and a dropped one: the others' seeds stay put
    stages = ("prompts", "image", "upscale", "segment", "identity")
    after = {s: stage_seed(cfg.build.seed, 3, s) for s in stages}
    assert {s: after[s] for s in stages if s in before} == {s: before[s] for s in stages if s in before}
    assert Plan(cfg, "unused", stages=("prompts", "depth"), refs={}).seeds(3) == \
        {"prompts": before["prompts"], "depth": before["depth"]}
    assert after["upscale"] not in before.values()


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
def test_a_new_stage_name_gets_a_salt_of_its_own(name):
    salt = stage_salt(name)
    assert salt == stage_salt(name)  # a function of the name alone
    if name not in STAGE_ORDER:
        assert salt not in {stage_salt(s) for s in STAGE_ORDER}
