"""How fast the compiler turns a 10-subject 1024x1024 scene into I_C / I_S, warm and cold.

Target (issue 4): <= 0.3 s per warm in-process compile on a 2-core CPU machine. The scene mixes every
placement kind: 3 box3d, 2 meshes, 2 masks, 2 box2d (with depth), 1 polygon. Prints a markdown table.

    python benchmarks/compile_speed.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


def make_scene(root: Path):
    import trimesh
    from PIL import Image

    from sigmascene import Scene, box2d, box3d, camera, mask, mesh, polygon

    rng = np.random.default_rng(0)
    (root / "refs").mkdir()
    for i in range(10):  # photo-sized references: decoding and fitting them is part of the work
        Image.fromarray(rng.integers(0, 255, (768, 640, 3), dtype=np.uint8)).save(root / "refs" / f"r{i}.png")
    for i, (x0, y0, x1, y1) in enumerate([(100, 500, 400, 900), (600, 100, 900, 450)]):
        m = np.zeros((1024, 1024), np.uint8)
        yy, xx = np.mgrid[:1024, :1024]
        m[((xx - (x0 + x1) / 2) / ((x1 - x0) / 2)) ** 2 + ((yy - (y0 + y1) / 2) / ((y1 - y0) / 2)) ** 2 < 1] = 255
        Image.fromarray(m).save(root / f"mask{i}.png")
    trimesh.creation.icosphere(subdivisions=4).export(root / "ball.obj")  # 5120 faces
    trimesh.creation.torus(major_radius=0.5, minor_radius=0.15).export(root / "ring.ply")

    s = Scene(canvas=(1024, 1024), prompt="benchmark room")
    s.camera = camera((0, 1.6, 4), (0, 0.8, 0), 55)
    s.base_dir = root
    s.add_subject("crate", "refs/r0.png", box3d((0.3, 0.25, 1.0), (0.8, 0.5, 0.5), yaw=30))
    s.add_subject("sofa", "refs/r1.png", box3d((0.0, 0.45, -1.5), (2.2, 0.9, 0.9)))
    s.add_subject("shelf", "refs/r2.png", box3d((-1.6, 1.0, -1.0), (0.4, 2.0, 0.8), yaw=-20))
    s.add_subject("ball", "refs/r3.png", mesh("ball.obj", (-0.6, 0.3, 1.2), scale=0.3))
    s.add_subject("ring", "refs/r4.png", mesh("ring.ply", (0.9, 0.9, 0.0), scale=0.8, pitch=60))
    s.add_subject("cat", "refs/r5.png", mask("mask0.png"), depth=2.5)
    s.add_subject("lamp", "refs/r6.png", mask("mask1.png"), behind="sofa")
    s.add_subject("rug", "refs/r7.png", box2d(0.2, 0.75, 0.8, 0.98), depth=3.0)
    s.add_subject("tv", "refs/r8.png", box2d(0.35, 0.2, 0.65, 0.4), depth=5.5)
    s.add_subject("plant", "refs/r9.png", polygon((0.8, 0.5), (0.95, 0.5), (0.92, 0.9), (0.83, 0.9)), depth=3.6)
    return s


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        import sigmascene
        from sigmascene.compiler import assets, compile_scene
        from sigmascene.renderers.pyrender3d import Item3D, render_3d  # noqa: F401 - import cost is part of the cold time

        scene = make_scene(root)
        first = timed(lambda: compile_scene(scene), 1)[0]
        cold_in_process = time.perf_counter() - t0
        warm = timed(lambda: compile_scene(scene), args.repeats)

        def uncached():
            assets.clear_cache()
            compile_scene(scene)

        fresh_files = timed(uncached, max(3, args.repeats // 4))
        from sigmascene.compiler.compile import _item
        from sigmascene.renderers.pyrender3d import render_3d as r3

        items = [_item(s, scene) for s in scene.subjects[:5]]
        render = timed(lambda: r3(items, scene.camera, 1024, 1024), args.repeats)

        (root / "bench.sigma").write_text(sigmascene.dumps(scene))
        cli = [sys.executable, "-c", "from sigmascene.cli import main; main()"]
        compile_args = ["compile", str(root / "bench.sigma"), "-o", str(root / "out"), "--force"]
        compile_cold = timed(lambda: subprocess.run(cli + compile_args, check=True, capture_output=True), 3)
        check_cold = timed(lambda: subprocess.run(cli + ["check", str(root / "bench.sigma")], check=True,
                                                  capture_output=True), 3)

    med = statistics.median
    rows = [
        ("warm compile, in-process (median)", med(warm), f"{args.repeats} runs, target <= 0.300 s"),
        ("warm compile, file caches cleared (median)", med(fresh_files), "decode 10 refs + 2 masks + 2 meshes"),
        ("  of which: 3D pass, 5 subjects (median)", med(render), "2 pyrender renders at 1024^2"),
        ("first compile in a fresh process", first, "EGL context + imports"),
        ("import + first compile, in-process", cold_in_process, ""),
        ("`sigmascene compile` cold start (median of 3)", med(compile_cold), "new process, writes 3 files"),
        ("`sigmascene check` cold start (median of 3)", med(check_cold), "for comparison"),
    ]
    print(f"10 subjects (3 box3d, 2 mesh, 2 mask, 2 box2d, 1 polygon), 1024x1024, {os.cpu_count()} CPUs\n")
    print("| measurement | seconds | note |")
    print("|---|---:|---|")
    for name, sec, note in rows:
        print(f"| {name} | {sec:.3f} | {note} |")


if __name__ == "__main__":
    main()
