"""`kill -9` while saving: after every kill the outputs are whole (old or new), never half-written.

    python3 benchmarks/kill_save.py [--kills 20]

A child process loops forever: compile a scene into OUT (control.png, identity.png, manifest.json) and `fmt`
a scene file in place. The parent kills it with SIGKILL at a random moment, then checks that OUT's three files
all load and that the scene file is exactly one of its two versions, and counts leftover temporary files
(harmless, but the user sees them). Prints one table for docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENE = 'sigma 1\ncanvas 256 x 256\nsubject a { ref "r.png" box2d (0.1, 0.1, 0.9, 0.9) }  # c\n'
CHILD = r"""
import sys, itertools
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import sigmascene
from sigmascene.cli.lang import _write_atomic
from sigmascene.grammar import format_file
d = Path(sys.argv[2])
scene = sigmascene.load(d / "scene.sigma")
compiled = sigmascene.compile(scene)
print("ready", flush=True)
for i in itertools.count():
    compiled.save(d / "out")
    f = d / "fmt.sigma"
    _write_atomic(f, format_file(f) if i % 2 else f.read_text() + "")
"""


def check(d: Path, versions: set[str]) -> tuple[bool, bool, int]:
    from PIL import Image

    out_ok = True
    if (d / "out").exists():
        try:
            json.loads((d / "out" / "manifest.json").read_text())
            for name in ("control.png", "identity.png"):
                Image.open(d / "out" / name).load()
        except Exception:  # noqa: BLE001 - any failure to read back is what we count
            out_ok = False
    fmt_ok = (d / "fmt.sigma").read_text() in versions
    leftovers = [p for p in d.rglob("*") if ".tmp" in p.name]
    return out_ok, fmt_ok, len(leftovers)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    args = ap.parse_args()
    from PIL import Image

    rng = random.Random(0)
    whole = fmt_whole = 0
    leftovers = 0
    env = dict(os.environ, PYOPENGL_PLATFORM="egl")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        Image.new("RGB", (64, 64), (10, 200, 30)).save(d / "r.png")
        (d / "scene.sigma").write_text(SCENE)
        (d / "fmt.sigma").write_text(SCENE)
        sys.path.insert(0, str(ROOT))
        from sigmascene.grammar import format_file

        versions = {SCENE, format_file(d / "fmt.sigma")}
        for _ in range(args.kills):
            p = subprocess.Popen([sys.executable, "-c", CHILD, str(ROOT), str(d)], stdout=subprocess.PIPE, env=env)
            assert p.stdout is not None and p.stdout.readline().strip() == b"ready"
            time.sleep(rng.uniform(0.05, 1.0))
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            out_ok, fmt_ok, left = check(d, versions)
            whole += out_ok
            fmt_whole += fmt_ok
            leftovers = max(leftovers, left)
    print("| kill -9 during | kills | outputs whole afterwards | temporary files left |")
    print("|---|---:|---:|---:|")
    print(f"| `compile -o` (CompiledScene.save) and `fmt` (atomic rewrite), alternating | {args.kills} | "
          f"compile {whole}/{args.kills}, fmt {fmt_whole}/{args.kills} | up to {leftovers} |")
    sys.exit(0 if whole == fmt_whole == args.kills else 1)


if __name__ == "__main__":
    main()
