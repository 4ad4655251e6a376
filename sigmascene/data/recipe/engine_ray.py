"""A cluster: the same stages as a Ray Data pipeline — one actor pool per stage (its GPUs and worker count from
the config), shards streaming from stage to stage, failed tasks retried and dead actors restarted.

Actors run `plan.run_unit` on whole shards, exactly as the one-machine engine does, and write to the same
content-addressed store (a folder every node sees); the driver assembles the dataset from that store. So the
same config and seeds give the same dataset, byte for byte, on either engine.
Ray is an optional extra (`pip install 'sigmascene[cluster]'`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

from ..ray_cluster import ACTOR_CPUS, connect
from .engine_local import shards

class _StageActor:
    """One stage's model, loaded once per actor; each call runs one or more shards through it."""

    def __init__(self, cfg_json: str, base_dir: Optional[str], out: str, name: str, stages: tuple[str, ...]):
        from .config import BuildConfig
        from .plan import Plan, make_stage

        cfg = BuildConfig.model_validate_json(cfg_json)
        cfg.base_dir = base_dir
        if cfg.build.threads:
            import torch

            torch.set_num_threads(cfg.build.threads)
        self.plan = Plan(cfg, out, stages)
        self.stage = make_stage(name, self.plan)

    def __call__(self, batch: dict) -> dict:
        from .plan import run_unit

        counts = []
        for unit in batch["unit"]:
            counts.append(json.dumps(run_unit(self.plan, self.stage, json.loads(str(unit)))))
        out = {k: list(v) for k, v in batch.items()}  # earlier stages' counters ride along
        out[f"counts_{self.stage.name}"] = counts
        return out


def run_ray(plan, indices: list[int], address: Optional[str],
            on_shard: Optional[Callable[[int, int], None]] = None) -> dict:
    ray = connect(address)
    gpus = float(ray.cluster_resources().get("GPU", 0))
    cfg = plan.cfg
    units = [json.dumps(u) for u in shards(indices, cfg.build.shard_size)]
    pools = {name: min(cfg.stage(name).workers, max(1, len(units))) for name in plan.stages}
    # every stage's pool must fit at once, with CPU to spare for the read tasks, or the pipeline never starts
    share = min(ACTOR_CPUS, 0.75 * float(ray.cluster_resources().get("CPU", 1)) / sum(pools.values()))
    ds = ray.data.from_items([{"unit": u} for u in units], override_num_blocks=max(1, len(units)))
    for name in plan.stages:
        sec = cfg.stage(name)
        ds = ds.map_batches(
            _StageActor, batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=pools[name]),
            num_cpus=share, num_gpus=sec.num_gpus if gpus else 0,
            fn_constructor_args=(cfg.model_dump_json(), cfg.base_dir, str(Path(plan.out).resolve()), name,
                                 plan.stages))
    totals = {s: {"processed": 0, "reused": 0, "blocked": 0, "seconds": 0.0} for s in plan.stages}
    done = 0
    for row in ds.iter_rows():
        for s in plan.stages:
            for k, v in json.loads(row[f"counts_{s}"]).items():
                totals[s][k] += v
        done += 1
        if on_shard:
            on_shard(done, len(units))
    return totals
