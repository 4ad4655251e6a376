"""How long the toy-world metric validation takes, and what it finds, per canvas size.

    python benchmarks/toyworld_validate.py                      # 64² and 256², 20 scenes per N, N = 1..10
    python benchmarks/toyworld_validate.py --sizes 64 --count 200

Two stages are timed apart: making the held-out scenes (the synthetic generator; scenes that lost a subject
are made and set aside, so more are synthesized than kept) and validating (re-rendering full silhouettes,
regions, and scoring each ground-truth image against its own and against other scenes' references). The
second is also what scoring renders costs per scene, apart from the renders themselves.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run(size: int, count: int, counts: list[int], root: Path) -> dict:
    from sigmascene.data import load_dataset
    from sigmascene.eval.toyworld.run import ToyworldConfig, prepare, score_all
    from sigmascene.eval.toyworld.validate import validation_rows

    cfg = ToyworldConfig(out=root, counts=counts, count=count, size=size, modes=[])
    t0 = time.perf_counter()
    evalset = prepare(cfg)
    t_make = time.perf_counter() - t0
    made = sum(len(load_dataset(d)) for d in (root / "world").iterdir())
    t0 = time.perf_counter()
    res = score_all(evalset, cfg)
    t_val = time.perf_counter() - t0
    row = [r for r in validation_rows(res.validation) if r["N"] == "all"][0]
    return {"size": size, "scenes": len(evalset.cases), "made": made, "make_s": t_make, "validate_s": t_val,
            "ms_scene": 1000 * t_val / max(1, len(evalset.cases)), **row}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--count", type=int, default=20, help="scenes per subject count N")
    ap.add_argument("--subjects", default="1-10")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from sigmascene.eval.toyworld.world import parse_subjects

    counts = parse_subjects(args.subjects)
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(run(size, args.count, counts, Path(tmp)))
    print(f"held-out scenes, N = {args.subjects}, {args.count} per N; percentages: GT / shuffled (chance)\n")
    print("| size | scenes | synthesized | make (s) | validate (s) | ms / scene | identity | occlusion | placement |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        cells = [f"{r[f'{m}_truth']} / {r[f'{m}_shuffled']} ({r[f'{m}_chance']})"
                 for m in ("identity", "occlusion", "placement")]
        print(f"| {r['size']} | {r['scenes']} | {r['made']} | {r['make_s']:.1f} | {r['validate_s']:.1f} | "
              f"{r['ms_scene']:.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
