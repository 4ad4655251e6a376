"""`data build`: check the config and every model folder, run the stages on one machine or on Ray, assemble
the dataset, and write `build.json` (seconds per sample per stage, rejections per filter, kept samples).

The output folder is the user's: a folder that holds something else is refused, and a finished or killed
build is only continued with `resume=True` and the same config (count may grow).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ...errors import ConfigError
from ..io import write_bytes_atomic
from .config import BuildConfig
from .output import assemble, stage_seconds
from .plan import Plan

STATE = Path(".build") / "config.json"
REPORT = "build.json"


@dataclass
class BuildReport:
    out: Path
    count: int
    kept: int
    rejected: int
    rejections: dict[str, int]
    seconds_per_sample: dict[str, float]
    stage_counts: dict[str, dict]
    engine: str
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"count": self.count, "kept": self.kept, "rejected": self.rejected, "rejections": self.rejections,
                "seconds_per_sample": self.seconds_per_sample, "stages": self.stage_counts, "engine": self.engine,
                "seconds": round(self.seconds, 3)}


def prepare_out(out: Path, cfg: BuildConfig, resume: bool) -> None:
    """Refuse to write into someone else's folder, or over a build, unless resuming the same one."""
    state = out / STATE
    if state.exists():
        old = json.loads(state.read_text(encoding="utf-8"))
        if not resume:
            raise ConfigError(f"{out} already holds a build",
                              hint="pass --resume to continue it, or choose a new --out")
        if old.get("config_hash") != cfg.config_hash():
            raise ConfigError(f"{out} was built with another config (hash {old.get('config_hash')}, now "
                              f"{cfg.config_hash()}); resuming would mix two datasets",
                              hint="use the original config (only build.count may change), or a new --out")
        return
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} is not empty and holds no build", hint="choose a new or empty --out folder")
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(state, json.dumps({"config_hash": cfg.config_hash(), "config": cfg.model_dump()},
                                         indent=2, sort_keys=True).encode())


def run_build(cfg: BuildConfig, out: str | Path, *, count: Optional[int] = None, resume: bool = False,
              ray: Optional[str] = None, on_stage: Optional[Callable[[str, int, int], None]] = None,
              tick: Optional[Callable[[str, int], None]] = None,
              on_shard: Optional[Callable[[int, int], None]] = None) -> BuildReport:
    out = Path(out)
    n = count if count is not None else cfg.build.count
    if n < 1:
        raise ConfigError(f"--count must be at least 1, got {n}")
    plan = Plan(cfg, out)  # every model folder is checked here, before anything is written
    prepare_out(out, cfg, resume)
    swept = plan.store.sweep()
    start = time.perf_counter()
    indices = list(range(n))
    if ray:
        from .engine_ray import run_ray

        counts = run_ray(plan, indices, ray, on_shard)
    else:
        from .engine_local import run_local

        counts = run_local(plan, indices, on_stage, tick)
    result = assemble(plan, n)
    report = BuildReport(out=out, count=n, kept=result["kept"], rejected=result["rejected"],
                         rejections=result["rejections"], seconds_per_sample=stage_seconds(plan, n),
                         stage_counts=counts, engine=f"ray ({ray})" if ray else "local",
                         seconds=time.perf_counter() - start)
    if swept:
        report.notes.append(f"removed {swept} half-written stage outputs of an interrupted run")
    if result.get("pruned"):
        report.notes.append(f"removed {result['pruned']} sample folders beyond --count {n} (left by an earlier, "
                            f"larger run; their stage outputs are kept, so a larger --count reuses them)")
    data = dict(report.to_json(), config_hash=cfg.config_hash(), models=plan.models())
    write_bytes_atomic(out / REPORT, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    return report
