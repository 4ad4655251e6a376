"""Synthetic-world throughput (samples/s by image size and worker count) and box-fitting accuracy.

    python benchmarks/synth_speed.py                 # 256² and 128², 1 and 2 workers, 100 samples each
    python benchmarks/synth_speed.py --count 40 --sizes 256 --workers 2

"wall" counts everything a user waits for (process start, GL context, the last sample); "steady" is the rate
between the first and the last finished sample, i.e. what a long run converges to. The fit table fits every
subject of the 256² / most-workers dataset from its mask + depth and compares with the exact boxes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run(size: int, workers: int, count: int, root: Path, subjects: tuple[int, int]) -> dict:
    from sigmascene.data import load_dataset
    from sigmascene.data.synth import SynthConfig, synthesize

    stamps: list[float] = []
    start = time.perf_counter()
    cfg = SynthConfig(seed=1, size=size, min_subjects=subjects[0], max_subjects=subjects[1])
    synthesize(root, count, cfg, workers=workers, on_progress=lambda done, total: stamps.append(time.perf_counter()))
    wall = time.perf_counter() - start
    done = stamps[1:]  # the first call reports the skipped (none) before any work
    steady = (len(done) - 1) / (done[-1] - done[0]) if len(done) > 1 and done[-1] > done[0] else float("nan")
    n_sub = sum(len(s.subjects) for s in load_dataset(root)) / count
    return {"size": size, "workers": workers, "count": count, "wall_s": wall, "rate": count / wall,
            "steady": steady, "subjects": n_sub}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 128])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--subjects", default="1-10")
    ap.add_argument("--keep", type=Path, default=None, help="keep the datasets under this folder")
    args = ap.parse_args()
    lo, hi = (int(v) for v in args.subjects.split("-"))
    base = args.keep or Path(tempfile.mkdtemp(prefix="synth-bench-"))
    rows = []
    print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    for size in args.sizes:
        for w in args.workers:
            root = base / f"s{size}_w{w}"
            shutil.rmtree(root, ignore_errors=True)
            rows.append(run(size, w, args.count, root, (lo, hi)))
            r = rows[-1]
            print(f"  {size}² x{w}: {r['rate']:.2f} samples/s", file=sys.stderr, flush=True)
    print()
    print("| size | workers | samples | subjects/img | wall (s) | samples/s (wall) | samples/s (steady) |")
    print("|-----:|--------:|--------:|-------------:|---------:|-----------------:|-------------------:|")
    for r in rows:
        print(f"| {r['size']} | {r['workers']} | {r['count']} | {r['subjects']:.1f} | {r['wall_s']:.1f} | "
              f"{r['rate']:.2f} | {r['steady']:.2f} |")

    from sigmascene.data.fitboxes import evaluate_fit

    size = max(args.sizes)
    root = base / f"s{size}_w{max(args.workers)}"
    print()
    print(f"box fitting on {root.name} (mask + depth + intrinsics -> box3d vs exact):")
    print("| mode | min visible | subjects | mean 3D IoU | median 3D IoU | mean centre error (m) | s |")
    print("|------|------------:|---------:|------------:|--------------:|----------------------:|--:|")
    for upright in (True, False):
        for vis in (0.5, 0.0):
            t = time.perf_counter()
            r = evaluate_fit(root, upright=upright, min_visible=vis)
            print(f"| {'upright' if upright else 'free'} | {vis:.0%} | {r['subjects']} | {r['mean_iou']:.3f} | "
                  f"{r['median_iou']:.3f} | {r['mean_centre_error_m']:.3f} | {time.perf_counter() - t:.1f} |")
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
