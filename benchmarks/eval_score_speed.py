"""Where `sigmascene eval score` spends its time, per stage, per case.

    python benchmarks/eval_score_speed.py                          # tiny random backbones (plumbing cost)
    python benchmarks/eval_score_speed.py --weights eval.toml      # real backbones from local folders
    python benchmarks/eval_score_speed.py --canvas 1024 --subjects 5 --cases 8 --device cuda

Scenes are built in Python (3D boxes and 2D boxes with depth), outputs are random images: the metric cost does
not depend on what the image shows. Prints one table: mean milliseconds per case for each stage.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


def build_scenes(folder: Path, n_cases: int, n_subjects: int, canvas: int):
    from PIL import Image

    from sigmascene import Scene, box2d, box3d

    rng = np.random.default_rng(0)
    scenes = []
    for c in range(n_cases):
        scene = Scene(canvas=(canvas, canvas), prompt="a sunlit living room", compose=None, seed=c)
        scene.base_dir = folder
        for k in range(n_subjects):
            ref = folder / f"ref_{c}_{k}.png"
            Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(ref)
            if k % 2:
                x = 0.1 + 0.8 * k / n_subjects
                scene.add_subject(f"s{k}", ref.name, box2d(x - 0.08, 0.3, x + 0.08, 0.8), depth=2.0 + k)
            else:
                scene.add_subject(f"s{k}", ref.name, box3d(center=(-1.0 + 2.0 * k / n_subjects, 0.0, -3.0 - k),
                                                           size=(0.6, 0.8, 0.6), yaw=20.0 * k))
        scenes.append(scene)
    return scenes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, help="eval.toml with local backbone folders (default: tiny ones)")
    ap.add_argument("--canvas", type=int, default=512)
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--cases", type=int, default=6)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()

    import sigmascene
    from sigmascene.eval.metrics import load_suite
    from sigmascene.eval.metrics.depth import depth_mse
    from sigmascene.eval.metrics.embed import cosine100
    from sigmascene.eval.metrics.identity import crop_subject, load_reference
    from sigmascene.eval.case_scores import Layout
    from sigmascene.testing.tiny_eval import save_tiny_weights
    from sigmascene.eval.weights import Weights

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weights = Weights.from_toml(args.weights if args.weights else save_tiny_weights(tmp / "weights"))
        t0 = time.perf_counter()
        suite = load_suite(weights, device=args.device)
        load_s = time.perf_counter() - t0
        scenes = build_scenes(tmp, args.cases, args.subjects, args.canvas)
        rng = np.random.default_rng(1)
        stages: dict[str, list[float]] = {}

        def timed(name: str, fn):
            t = time.perf_counter()
            out = fn()
            stages.setdefault(name, []).append(time.perf_counter() - t)
            return out

        def one_case(i, scene) -> None:  # a function, so the timed closures bind this case's values
            image = rng.integers(0, 255, (args.canvas, args.canvas, 3), dtype=np.uint8)
            layout = timed("compile", lambda: Layout.of(sigmascene.compile(scene)))
            crops = timed("crops + refs", lambda: [
                (crop_subject(image, layout.regions[n]),
                 (f"{i}{n}", load_reference(scene.resolve(scene.subject(n).ref))))
                for n in layout.order if layout.regions[n].any()])
            if i == 0:  # warm-up case: first calls pay one-time costs (kernels, caches); not in the means
                stages.clear()
            for key, metric in (("DINO-I", suite.dino), ("SigLIP-I", suite.siglip_i)):
                if metric is not None:
                    timed(key, lambda metric=metric: metric.score([c for c, _ in crops], [r for _, r in crops]))
            if suite.siglip_t is not None:
                timed("SigLIP-T", lambda: cosine100(suite.siglip_t.image.embed([image]),
                                                    suite.siglip_t.embed([scene.prompt])))
            if suite.depth is not None:
                est = timed("depth estimate", lambda: suite.depth.predict_inverse(image))
                timed("depth align + MSE", lambda: depth_mse(est, layout.control, layout.order))
            if suite.clip_iqa is not None:
                timed("CLIP-IQA", lambda: suite.clip_iqa.score([image]))
            if suite.musiq is not None:
                timed("MUSIQ", lambda: suite.musiq.score([image]))

        for i, scene in enumerate(scenes):
            one_case(i, scene)

    which = str(args.weights) if args.weights else "tiny random backbones"
    print(f"eval score cost per case — {which}; canvas {args.canvas}², {args.subjects} subjects, "
          f"{args.cases - 1} timed cases (+1 warm-up), device {args.device or 'auto'}")
    print(f"backbone loading: {load_s * 1000:.0f} ms once")
    for line in suite.skipped.values():
        print(f"  {line}")
    print(f"{'stage':<20}{'ms/case':>10}{'ms/subject':>12}")
    total = 0.0
    for name, times in stages.items():
        ms = 1000 * float(np.mean(times))
        total += ms
        per_subject = f"{ms / args.subjects:12.1f}" if name in ("crops + refs", "DINO-I", "SigLIP-I") else " " * 12
        print(f"{name:<20}{ms:10.1f}{per_subject}")
    print(f"{'total':<20}{total:10.1f}")


if __name__ == "__main__":
    main()
