"""One machine: stage-major over shards. A shard goes through every stage in turn and each stage's model is
released before the next one loads, so only one large model is ever on the GPU (a 24 GB card holds any one of
the suggested models in bf16 / fp8 with offload; none has to share it).
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Optional

from .plan import Plan, make_stage, run_unit

# on_stage(stage, shard_no, shards) when a stage starts a shard; tick(stage, n) after n samples
StageStart = Optional[Callable[[str, int, int], None]]
Tick = Optional[Callable[[str, int], None]]


def shards(indices: list[int], size: int) -> list[list[int]]:
    return [indices[k:k + size] for k in range(0, len(indices), size)]


def run_local(plan: Plan, indices: list[int], on_stage: StageStart = None, tick: Tick = None) -> dict:
    totals = {s: {"processed": 0, "reused": 0, "blocked": 0, "seconds": 0.0} for s in plan.stages}
    parts = shards(indices, plan.cfg.build.shard_size)
    threads, old = plan.cfg.build.threads, None
    if threads:
        import torch

        old = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        _run_shards(plan, parts, totals, on_stage, tick)
    finally:
        if old is not None:
            torch.set_num_threads(old)  # the caller's process keeps its own setting
    return totals


def _run_shards(plan: Plan, parts: list[list[int]], totals: dict, on_stage: StageStart, tick: Tick) -> None:
    for k, part in enumerate(parts):
        for name in plan.stages:
            if on_stage:
                on_stage(name, k, len(parts))
            stage = make_stage(name, plan)
            try:
                counts = run_unit(plan, stage, part, partial(tick, name) if tick else None)
            finally:
                stage.close()
            for key, v in counts.items():
                totals[name][key] += v
