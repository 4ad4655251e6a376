"""The fuzz sweep at scale: N grammar-aware mutations of real scenes (default 100,000), checked in parallel;
with --editor, N hypothesis-made requests to every route of the browser editor instead (default 20,000).

    python3 benchmarks/fuzz.py                 # 100,000 inputs on every core
    python3 benchmarks/fuzz.py -n 20000 --workers 2 --maps
    python3 benchmarks/fuzz.py --editor -n 20000 --workers 2   # the editor's routes: no 5xx, ever

Each input goes through `sigmascene.testing.fuzz.check_text` (parse + validate, and for accepted inputs fmt
twice and re-parse; with --maps also compile small scenes before and after fmt). Prints the table that
docs/reliability.md quotes: tried / accepted / clean rejections / other exceptions / slow inputs (> 1 s), and
lists the first inputs of each failure kind so they can become tests. Workers start with multiprocessing's
'spawn' (the 3D renderer must never be forked).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

SLOW_S = 1.0


def _run_chunk(args: tuple[int, int, bool]) -> dict:
    from sigmascene.testing.fuzz import check_text, generate, seed_texts

    start, stop, maps = args
    examples = ROOT / "examples"
    donors = seed_texts(examples)
    counts: Counter = Counter()
    failures: dict[str, tuple[int, str]] = {}
    slow: list[tuple[int, float]] = []
    worst = 0.0
    for i in range(start, stop):
        text = generate(i, donors)
        out = check_text(text, examples, compile_maps=maps)
        counts["tried"] += 1
        if out.other is not None:
            counts["other"] += 1
            failures.setdefault(out.other[:100], (i, text[:400]))
        elif out.accepted:
            counts["accepted"] += 1
        else:
            counts["clean"] += 1
        if out.seconds > SLOW_S:
            slow.append((i, out.seconds))
        worst = max(worst, out.seconds)
    return {"counts": counts, "failures": failures, "slow": slow, "worst": worst}


def _run_editor_chunk(args: tuple[int, int]) -> dict:
    """`stop - start` route-fuzz cases (sigmascene.testing.editor_fuzz) against a fresh editor on a copy of the
    living-room example, in-process over ASGI; hypothesis seeded with `start`, so a chunk is reproducible."""
    import shutil
    import tempfile

    from hypothesis import HealthCheck, given, seed, settings
    from starlette.testclient import TestClient

    from sigmascene.editor import create_app, render_job
    from sigmascene.testing.editor_fuzz import cases, run_case

    start, stop = args
    folder = Path(tempfile.mkdtemp(prefix="editor-fuzz-")) / "scene"
    folder.mkdir()
    examples = ROOT / "examples"
    for name in ("living_room.sigma", "furniture.sigma"):
        shutil.copy(examples / name, folder / name)
    for sub in ("refs", "masks", "meshes"):
        shutil.copytree(examples / sub, folder / sub)
    app = create_app(folder / "living_room.sigma", "fuzz", extra_hosts={"testserver"})
    state = app.app.state.editor
    original = state.doc.text

    def reset() -> None:
        if state.doc.text != original:
            state.doc.set_text(original)

    client = TestClient(app, headers={"X-Sigmascene-Token": "fuzz"}, raise_server_exceptions=False)
    counts: Counter = Counter()
    failures: dict[str, tuple[int, str]] = {}
    render_job.RENDER_LOCK.acquire()  # a valid render body answers 409 after its checks instead of rendering

    @seed(start)
    @settings(max_examples=stop - start, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=cases())
    def sweep(case) -> None:
        out = run_case(client, case, reset)
        counts["tried"] += 1
        counts[f"{out.status // 100}xx"] += 1
        if out.status >= 500:
            failures.setdefault(f"{case.method} {case.path.split('?')[0][:60]} -> {out.status}",
                                (counts["tried"], str(case)[:400]))

    try:
        sweep()
    finally:
        render_job.RENDER_LOCK.release()
        shutil.rmtree(folder.parent, ignore_errors=True)
    return {"counts": counts, "failures": failures}


def editor_main(args: argparse.Namespace) -> None:
    n = args.n if args.n_given else 20_000
    chunks = [(s, min(s + args.chunk, args.start + n)) for s in range(args.start, args.start + n, args.chunk)]
    total: Counter = Counter()
    failures: dict[str, tuple[int, str]] = {}
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for res in pool.imap_unordered(_run_editor_chunk, chunks):
            total.update(res["counts"])
            for k, v in res["failures"].items():
                failures.setdefault(k, v)
            print(f"{total['tried']}/{n}", file=sys.stderr, flush=True)
    wall = time.perf_counter() - t0
    print(f"\neditor route fuzz: {total['tried']:,} requests over {len(chunks)} seeded chunks, {args.workers} workers, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {wall:.0f} s wall "
          f"({total['tried'] / max(wall, 1e-9):.0f} requests/s)\n")
    print("| requests | 2xx | 3xx | 4xx | 5xx |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {total['tried']:,} | {total['2xx']:,} | {total['3xx']:,} | {total['4xx']:,} | {total['5xx']:,} |")
    for msg, (i, text) in list(failures.items())[:20]:
        print(f"\nFAIL case {i}: {msg}\n  {text}")
    sys.exit(1 if total["5xx"] else 0)


def _retime(slow: list[tuple[int, float]]) -> dict[int, float]:
    """Each slow input again, alone in this process, best of three: separates slow inputs from a busy machine."""
    from sigmascene.testing.fuzz import check_text, generate, seed_texts

    examples = ROOT / "examples"
    donors = seed_texts(examples)
    check_text(generate(0, donors), examples)  # imports and grammar build are not the input's cost
    return {i: min(check_text(generate(i, donors), examples).seconds for _ in range(3)) for i, _ in slow}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=None, help="inputs to try (default 100,000; --editor: 20,000)")
    ap.add_argument("--editor", action="store_true", help="fuzz the editor's HTTP routes instead of the grammar")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--start", type=int, default=0, help="first input number (inputs are numbered seeds)")
    ap.add_argument("--maps", action="store_true", help="also compile small accepted scenes before/after fmt")
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--no-retime", action="store_true",
                    help="do not re-time slow inputs alone (on a shared machine, most 'slow' inputs are waits)")
    args = ap.parse_args()
    args.n_given = args.n is not None
    if args.editor:
        if args.chunk == 500:
            args.chunk = 1000
        editor_main(args)
        return
    args.n = args.n if args.n_given else 100_000

    chunks = [(s, min(s + args.chunk, args.start + args.n), args.maps)
              for s in range(args.start, args.start + args.n, args.chunk)]
    total: Counter = Counter()
    failures: dict[str, tuple[int, str]] = {}
    slow: list[tuple[int, float]] = []
    worst = 0.0
    t0 = time.perf_counter()
    try:
        from tqdm import tqdm
    except ImportError:  # a plain counter when tqdm is absent
        tqdm = None
    bar = tqdm(total=args.n, unit="input", file=sys.stderr) if tqdm else None
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for res in pool.imap_unordered(_run_chunk, chunks):
            total.update(res["counts"])
            for k, v in res["failures"].items():
                failures.setdefault(k, v)
            slow += res["slow"]
            worst = max(worst, res["worst"])
            if bar:
                bar.update(res["counts"]["tried"])
            else:
                print(f"{total['tried']}/{args.n}", file=sys.stderr, flush=True)
    if bar:
        bar.close()
    wall = time.perf_counter() - t0

    print(f"\nfuzz sweep: inputs {args.start}..{args.start + args.n - 1}, {args.workers} workers, "
          f"{'parse+fmt+maps' if args.maps else 'parse+fmt'}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, {wall:.0f} s wall ({wall / max(1, total['tried']) * 1000 * args.workers:.1f} "
          f"ms per input per worker)\n")
    alone = _retime(slow) if not args.no_retime else {}
    still = [i for i, s in alone.items() if s > SLOW_S]
    print("| tried | accepted | clean rejections | other exceptions | slow inputs (> 1 s) | slowest | "
          "slow when re-timed alone | slowest alone |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {total['tried']:,} | {total['accepted']:,} | {total['clean']:,} | {total['other']:,} | {len(slow):,} "
          f"| {worst:.2f} s | {len(still) if alone or not slow else 'not re-timed'} | "
          f"{max(alone.values(), default=0):.2f} s |")
    for msg, (i, text) in list(failures.items())[:20]:
        print(f"\nFAIL input {i}: {msg}\n  {text!r}")
    for i, s in sorted(slow, key=lambda x: -x[1]):
        print(f"SLOW input {i}: {s:.2f} s in the sweep" + (f", {alone[i]:.3f} s alone" if i in alone else ""))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
