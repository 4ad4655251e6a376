"""The trainer speaks with one voice: one line per event, no label said twice, no inner tqdm bars."""

from __future__ import annotations

from sigmascene.train.watch import Watch


def test_the_stage_field_does_not_repeat_its_own_name(tmp_path):
    seen: list[dict] = []
    w = Watch(tmp_path, total=4, start=0, enabled=True, progress=lambda what, done, total, f: seen.append(f))
    w.step(1, loss=0.5, stage="stage 1/3 (1-4 subjects)", scalars={}, log=False)
    assert seen[-1]["stage"] == "1/3 (1-4 subjects)"  # shown as `stage 1/3 (1-4 subjects)`, not `stage stage ...`

