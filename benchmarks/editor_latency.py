"""Editor latency: one edit -> new maps, for the 10-subject 1024x1024 scene of compile_speed.py.

Rows (edits alternate a 3D box and a 2D box, a few centimetres / pixels each, every one a new text):
- warm compile: `compile_scene` of the scene from scratch, and with the editor's CompileReuse after one edit; and
  after moving the sofa, the corner farthest from the camera: the far plane moves with it, which changes the depth
  buffer's quantisation everywhere, so the 3D pass is drawn whole (the worst case of a drag);
- server over HTTP (uvicorn on 127.0.0.1, one keep-alive connection): PATCH /api/subjects/NAME, GET /api/maps,
  GET /api/maps/ir_asc.png — the round trip a script makes; then against `sigmascene edit` running as its own
  process, with the same edits and with a mixed cycle whose every fifth edit moves the far plane;
- browser (headless Debian chromium through Playwright): the page's own PATCH until the new maps (IR_asc,
  IR_desc, I_T, I_S) are on screen, and until the big layout picture under the shapes (asked for side by side,
  drawn larger) is too;
- drag: the mouse holds the crate's floor handle and moves every 16 ms for a few seconds; maps frames that reached
  the screen before release, per second.

    python benchmarks/editor_latency.py [--repeats 20] [--drag-seconds 5] [--no-browser]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sigmascene.editor.serve import ServedInThread

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
TOKEN = "bench"
H = {"X-Sigmascene-Token": TOKEN}


def make_file(root: Path) -> Path:
    spec = importlib.util.spec_from_file_location("compile_speed", Path(__file__).with_name("compile_speed.py"))
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]  # a .py file always has a spec
    spec.loader.exec_module(mod)  # type: ignore[union-attr]  # a .py file's spec always has a loader
    from sigmascene import dumps

    scene = mod.make_scene(root)
    path = root / "bench.sigma"
    path.write_text(dumps(scene), encoding="utf-8")
    return path


def edits(k: int) -> tuple[str, dict]:
    """Edit k: every one changes the file (a repeated value would be answered without compiling)."""
    d = 0.002 * (k + 1)
    if k % 2:
        return "rug", {"placement": {"x0": 0.1 + d, "x1": 0.7 + d}}
    return "crate", {"placement": {"center": [0.3 + d, 0.25, 1.0]}}


def row(name: str, xs: list[float], cpu: list[float] | None = None) -> str:
    """Wall-clock median, p90 and best; `cpu`: median CPU seconds this process spent per edit (all its threads,
    OpenGL's included) — what the edit costs when the machine is not shared."""
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(0.9 * len(xs)))]
    c = "—" if cpu is None else f"{1000 * statistics.median(cpu):.0f}"
    return f"| {name} | {len(xs)} | {1000 * statistics.median(xs):.0f} | {1000 * p90:.0f} | {1000 * xs[0]:.0f} | {c} |"


def compile_rows(path: Path, repeats: int) -> list[str]:
    from sigmascene.compiler import compile_scene
    from sigmascene.compiler.reuse import CompileReuse
    from sigmascene.grammar import load

    scene = load(path)
    compile_scene(scene)
    plain, reused, plain_cpu, reused_cpu = [], [], [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        compile_scene(scene)
        plain.append(time.perf_counter() - t)
        plain_cpu.append(time.process_time() - c)
    reuse = CompileReuse()
    compile_scene(scene, reuse=reuse)
    for k in range(repeats):
        s = scene.subject("crate" if k % 2 == 0 else "rug")
        assert s is not None
        p = s.placement
        d = 0.002 * (k + 1)
        s.placement = p.model_copy(update={"center": (0.3 + d, 0.25, 1.0)} if k % 2 == 0 else
                                   {"x0": 0.1 + d, "x1": 0.7 + d})
        t, c = time.perf_counter(), time.process_time()
        compile_scene(scene, reuse=reuse)
        reused.append(time.perf_counter() - t)
        reused_cpu.append(time.process_time() - c)
    far, far_cpu = [], []  # the sofa reaches farthest: moving it moves the far plane, which redraws the 3D pass
    for k in range(repeats):
        s = scene.subject("sofa")
        assert s is not None
        s.placement = s.placement.model_copy(update={"center": (0.002 * (k + 1), 0.45, -1.5)})
        t, c = time.perf_counter(), time.process_time()
        compile_scene(scene, reuse=reuse)
        far.append(time.perf_counter() - t)
        far_cpu.append(time.process_time() - c)
        assert reuse.last_3d == "full"
    return [row("warm compile, from scratch", plain, plain_cpu),
            row("warm compile after one edit (CompileReuse)", reused, reused_cpu),
            row("warm compile after moving the subject that sets the far plane (whole 3D pass)", far, far_cpu)]


def over_http(srv: ServedInThread, repeats: int) -> tuple[list[float], list[float]]:
    import httpx

    out, cpu = [], []
    with httpx.Client(base_url=srv.base, headers=H, timeout=120) as c:
        c.get("/api/maps")  # warm: the first compile starts the OpenGL context and caches references
        for k in range(repeats):
            name, body = edits(k)
            t, t_cpu = time.perf_counter(), time.process_time()
            assert c.patch(f"/api/subjects/{name}", json=body).status_code == 200
            assert "order" in c.get("/api/maps").json()
            assert c.get("/api/maps/ir_asc.png").status_code == 200
            out.append(time.perf_counter() - t)
            cpu.append(time.process_time() - t_cpu)  # server and client: both live in this process
    return out, cpu


def mixed_edit(k: int) -> tuple[str, dict]:
    """A cycle over the kinds a user drags: a mesh, a polygon, the far-plane sofa, a 2D box, a mesh's yaw."""
    d = 0.001 * (k % 300 + 1)  # every edit a new text for the first 300
    return [("ball", {"placement": {"position": [-0.6 + d, 0.3, 1.2]}}),
            ("plant", {"placement": {"points": [[0.8 - d, 0.5], [0.95 - d, 0.5], [0.92 - d, 0.9], [0.83 - d, 0.9]]}}),
            ("sofa", {"placement": {"center": [d, 0.45, -1.5]}}),
            ("tv", {"placement": {"x0": 0.35 + d, "x1": 0.65 + d}}),
            ("ring", {"placement": {"yaw": 1.0 * (k % 300)}})][k % 5]


def own_process(path: Path, repeats: int) -> tuple[list[float], list[float]]:
    """`sigmascene edit` as its own process (the client no longer shares its interpreter), the same round trip,
    with the editor's own edits (`edits`) and with the mixed cycle (`mixed_edit`)."""
    import re
    import subprocess
    import sys

    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "sigmascene.cli", "edit", str(path), "--no-browser", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        match = re.search(r"(http://\S+)/\?token=(\S+)", proc.stdout.readline())
        assert match, "sigmascene edit printed no URL"
        out: tuple[list[float], list[float]] = ([], [])
        with httpx.Client(base_url=match[1], headers={"X-Sigmascene-Token": match[2]}, timeout=120) as c:
            c.get("/api/maps")
            c.get("/api/methods")  # as the page does on load: the method list imports diffusers
            for times, edit in zip(out, (edits, mixed_edit)):
                for k in range(repeats):
                    name, body = edit(k)  # a fresh server on the file as saved: every edit is new to it
                    t = time.perf_counter()
                    assert c.patch(f"/api/subjects/{name}", json=body).status_code == 200
                    assert "order" in c.get("/api/maps").json()
                    assert c.get("/api/maps/ir_asc.png").status_code == 200
                    times.append(time.perf_counter() - t)
        return out
    finally:
        proc.terminate()
        proc.wait(30)


def in_browser(srv: ServedInThread, repeats: int, drag_seconds: float) -> tuple[list[float], list[float], float, int]:
    from playwright.sync_api import sync_playwright

    out: list[float] = []
    layout: list[float] = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=["--no-sandbox"])
        page = b.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(f"{srv.base}/?token={TOKEN}")
        page.wait_for_selector("body[data-maps-revision]", timeout=120_000)
        for k in range(repeats):
            name, body = edits(k + repeats)
            ms, lay_ms = page.evaluate("""async ([name, body]) => {
                const { call } = await import("/static/api.js");
                const t = performance.now();
                // the page's own path: the answer's state reaches the listeners, which fetch the frame
                const rev = (await call("PATCH", `/api/subjects/${name}`, body)).revision;
                const seen = (key) => Number(document.body.dataset[key] || -1) >= rev;
                while (!seen("mapsRevision")) await new Promise(ok => setTimeout(ok, 2));
                const maps = performance.now() - t;
                while (!seen("layoutRevision")) await new Promise(ok => setTimeout(ok, 2));
                return [maps, performance.now() - t];
            }""", [name, body])
            out.append(ms / 1000)
            layout.append(lay_ms / 1000)
        page.locator("[data-subject=crate] .body").click()
        hb = page.locator("[data-subject=crate] [data-handle=move3d]").bounding_box()
        assert hb is not None
        x, y = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        start = int(page.evaluate("Number(document.body.dataset.mapsFrames || 0)"))
        t0, k = time.time(), 0
        while time.time() - t0 < drag_seconds:
            k += 1
            phase = (k % 120) / 60  # back and forth over 40 px: every move is a new position
            page.mouse.move(x + 40 * (phase if phase <= 1 else 2 - phase), y)
            page.wait_for_timeout(16)
        held = time.time() - t0
        frames = int(page.evaluate("Number(document.body.dataset.mapsFrames || 0)")) - start
        page.mouse.up()
        b.close()
    return out, layout, frames / held, k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--drag-seconds", type=float, default=5.0)
    ap.add_argument("--no-browser", action="store_true", help="Skip the browser measurements.")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = make_file(Path(tmp))
        rows = compile_rows(path, args.repeats)
        from sigmascene.editor.serve import ServedInThread

        srv = ServedInThread(path, TOKEN)  # the editor served as `sigmascene edit` serves it
        try:
            rows.append(row("server over HTTP: PATCH + maps JSON + IR_asc PNG", *over_http(srv, args.repeats)))
            plain, mixed = own_process(path, args.repeats)
            rows.append(row("the same against `sigmascene edit` in its own process", plain))
            rows.append(row("the same, its own process, mixed edits (mesh, polygon, far-plane sofa, 2D box, yaw)",
                            mixed))
            drag = ""
            if not args.no_browser and shutil.which("chromium"):
                ms, lay, rate, moves = in_browser(srv, args.repeats, args.drag_seconds)
                rows.append(row("browser: PATCH -> new maps on screen", ms))
                rows.append(row("browser: PATCH -> new layout picture on screen", lay))
                drag = f"\nDuring a {args.drag_seconds:.0f} s drag ({moves} mouse moves): {rate:.1f} maps/s on screen."
        finally:
            srv.stop()
    load1 = os.getloadavg()[0]
    cpu = platform.processor() or platform.machine()
    print(f"Editor latency, 10 subjects at 1024x1024 — {os.cpu_count()} CPUs ({cpu}), no GPU; "
          f"load average {load0:.1f} -> {load1:.1f} (ms)\n")
    print("| path | edits | median | p90 | best | CPU per edit |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows) + drag)


if __name__ == "__main__":
    main()
