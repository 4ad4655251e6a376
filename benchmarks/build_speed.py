"""Seconds per sample per stage of `data build` with the tiny random-weight models: one machine vs Ray with two
workers per stage, and their ratio. The tiny models make the numbers about the pipeline's overheads (loading,
store, Ray scheduling), not about the real models — on a GPU the model calls dominate (docs/dataset-build.md).

    python benchmarks/build_speed.py [--count 12] [--shard 3]

Prints a markdown table. Needs Ray (`pip install 'sigmascene[cluster]'`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--shard", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    args = ap.parse_args()

    import ray

    from sigmascene.data.recipe import run_build, validate_config
    from sigmascene.testing.tiny_stages import tiny_config, write_tiny_models

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = write_tiny_models(tmp / "models")
        raw = tiny_config(models, shard_size=args.shard, threads=1)
        results = {}
        t0 = time.perf_counter()
        results["one machine"] = (run_build(validate_config(raw), tmp / "local", count=args.count),
                                  time.perf_counter() - t0)
        for stage in raw["stages"].values():
            stage["workers"] = 2
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
        try:
            t0 = time.perf_counter()
            results["Ray, 2 workers/stage"] = (run_build(validate_config(raw), tmp / "ray", count=args.count,
                                                         ray="auto"), time.perf_counter() - t0)
        finally:
            ray.shutdown()

    stages = list(results["one machine"][0].seconds_per_sample)
    print(f"data build, tiny models, {args.count} samples, shards of {args.shard}, {os.cpu_count()} CPUs\n")
    print("| engine | " + " | ".join(f"{s} s/sample" for s in stages) + " | wall s/sample |")
    print("|---|" + "---|" * (len(stages) + 1))
    for name, (rep, wall) in results.items():
        print(f"| {name} | " + " | ".join(f"{rep.seconds_per_sample[s]:.3f}" for s in stages)
              + f" | {wall / args.count:.2f} |")
    (a, wa), (b, wb) = results.values()
    print(f"\nwall-clock ratio Ray / one machine: {wb / wa:.2f} (model-call seconds are per sample inside a "
          "worker; the wall column includes model loading and scheduling)")


if __name__ == "__main__":
    main()
