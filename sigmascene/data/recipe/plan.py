"""The build plan: which stages run, their models, and every sample's seeds and store keys — computed from the
config alone, before anything runs, so both engines (and a resumed run) agree on what each output is.

`run_unit` is the one loop that turns a list of sample indices into stored stage outputs; the one-machine engine
calls it shard by shard, the Ray engine inside an actor.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .config import STAGE_ORDER, BuildConfig
from .models import ModelRef, check_models
from .stages.base import Stage, Work
from .store import Outcome, Store

# A stage's seed salt belongs to its name, not its place in STAGE_ORDER, so inserting or reordering a stage
# re-seeds no other. The six stages that existed when the salt was positional keep their old numbers (datasets
# already built stay byte-identical); a stage named later gets a salt from its name's hash, which is far above
# these small numbers and so cannot collide with them.
_FROZEN_SALT = {"prompts": 0x51, "image": 0x52, "segment": 0x53, "depth": 0x54, "repose": 0x55, "identity": 0x56}


def stage_salt(stage: str) -> int:
    """The salt mixed into every seed of `stage`: a function of the stage's name alone."""
    if stage in _FROZEN_SALT:
        return _FROZEN_SALT[stage]
    return int.from_bytes(hashlib.sha256(f"sigmascene stage {stage}".encode()).digest()[:8], "big") | 1 << 63


SAMPLE_ID_RE = r"\d{6,}"  # what sample_id gives


def sample_id(index: int) -> str:
    return f"{index:06d}"


def stage_seed(seed: int, index: int, stage: str) -> int:
    """Sample `index`'s seed for `stage`: independent per stage, fixed by (world seed, index)."""
    return int(np.random.SeedSequence([seed, index, stage_salt(stage)]).generate_state(1)[0])


class Plan:
    def __init__(self, cfg: BuildConfig, out: str | Path, stages: tuple[str, ...] = STAGE_ORDER,
                 refs: dict[str, list[ModelRef]] | None = None):
        self.cfg, self.out, self.stages = cfg, Path(out), stages
        self.refs = refs if refs is not None else check_models(cfg, stages)
        self.fingerprints = {s: cfg.stage_fingerprint(s, {r.role: r.id for r in self.refs.get(s, [])})
                             for s in stages}
        self.store = Store(self.out)

    def keys(self, index: int) -> dict[str, str]:
        keys, up = {}, f"{self.cfg.build.seed}:{index}"
        for s in self.stages:
            up = hashlib.sha256(f"{self.fingerprints[s]}|{up}".encode()).hexdigest()
            keys[s] = up
        return keys

    def seeds(self, index: int) -> dict[str, int]:
        return {s: stage_seed(self.cfg.build.seed, index, s) for s in self.stages}

    def models(self) -> dict[str, list[dict]]:
        return {s: [dict(r.record(), role=r.role) for r in refs] for s, refs in self.refs.items()}


def make_stage(name: str, plan: Plan) -> Stage:
    from .stages import STAGES

    return STAGES[name](plan)


Tick = Optional[Callable[[int], None]]


def run_unit(plan: Plan, stage: Stage, indices: list[int], tick: Tick = None) -> dict[str, float]:
    """Run `stage` on the samples of `indices` that reached it and are not stored yet; returns counters.

    Samples are given to the model `batch` at a time in index order, so the same unit gives the same batches in
    every engine.
    """
    name, store = stage.name, plan.store
    prev = plan.stages[plan.stages.index(name) - 1] if plan.stages.index(name) > 0 else None
    todo: list[Work] = []
    counts = {"processed": 0, "reused": 0, "blocked": 0, "seconds": 0.0}
    for i in indices:
        keys = plan.keys(i)
        if store.get(name, keys[name]) is not None:
            counts["reused"] += 1
            if tick:
                tick(1)
            continue
        inputs = {}
        for s in plan.stages[: plan.stages.index(name)]:
            got = store.get(s, keys[s])
            if got is None or not got.ok:
                break
            inputs[s] = got
        if prev is not None and prev not in inputs:
            counts["blocked"] += 1  # rejected upstream (or upstream unfinished): nothing to do here
            if tick:
                tick(1)
            continue
        todo.append(Work(i, sample_id(i), stage_seed(plan.cfg.build.seed, i, name), inputs))
    batch = getattr(stage.section, "batch", 1)
    for k in range(0, len(todo), batch):
        chunk = todo[k:k + batch]
        if not stage.loaded:
            load_stage(stage)
        t0 = time.perf_counter()
        outcomes: list[Outcome] = stage.process(chunk)
        per = (time.perf_counter() - t0) / len(chunk)
        for w, o in zip(chunk, outcomes):
            store.put(name, plan.keys(w.index)[name], o, per)
        counts["processed"] += len(chunk)
        counts["seconds"] += per * len(chunk)
        if tick:
            tick(len(chunk))
    return counts


def load_stage(stage: Stage) -> None:
    """`stage.load()`, with whatever the libraries raise for a damaged model folder (safetensors' SafetensorError
    for a truncated file, tokenizers' plain Exception for a garbage tokenizer.json, ...) as one ModelError line
    naming the stage and its folders; a diffusers folder and a transformers folder get the same treatment."""
    from ...errors import ModelError, SigmaError

    try:
        stage.load()
    except SigmaError:
        raise
    except Exception as err:  # noqa: BLE001 - the loaders' error types are many and library-private
        folders = ", ".join(str(r.path) for r in stage.plan.refs.get(stage.name, [])) or "its model folder"
        message = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ModelError(f"stage {stage.name}: could not load the model from {folders}: "
                         f"{type(err).__name__}{': ' + message[:300] if message else ''}",
                         hint="the folder's files are damaged or incomplete (a truncated .safetensors, a broken "
                              "tokenizer.json); copy or download the model again") from None
    stage.loaded = True
