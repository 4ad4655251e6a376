"""Editor latency: one edit -> new maps, for the 10-subject 1024x1024 scene of compile_speed.py.

Server side: PATCH /api/subjects/NAME (the text edit and re-parse), then GET /api/maps (the compile) and
GET /api/maps/ir_asc.png (the picture), in-process through Starlette's test client. In the browser: the page
(headless Debian chromium through Playwright, served by uvicorn) sends the PATCH and waits until the new maps are
on screen. Alternating edits move a 2D box and a 3D box by a few centimetres / pixels. Prints a markdown table.

    python benchmarks/editor_latency.py [--repeats 10] [--no-browser]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
TOKEN = "bench"
H = {"X-Sigmascene-Token": TOKEN}


def make_file(root: Path) -> Path:
    spec = importlib.util.spec_from_file_location("compile_speed", Path(__file__).with_name("compile_speed.py"))
    mod = importlib.util.module_from_spec(spec)
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


def row(name: str, xs: list[float]) -> str:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(0.9 * len(xs)))]
    return f"| {name} | {len(xs)} | {1000 * statistics.median(xs):.0f} | {1000 * p90:.0f} | {1000 * xs[0]:.0f} |"


def server_side(path: Path, repeats: int) -> list[float]:
    from starlette.testclient import TestClient

    from sigmascene.editor import create_app

    c = TestClient(create_app(path, TOKEN, extra_hosts={"testserver"}))
    c.get("/api/maps", headers=H)  # warm: first compile starts the OpenGL context and caches references
    out = []
    for k in range(repeats):
        name, body = edits(k)
        t = time.perf_counter()
        assert c.patch(f"/api/subjects/{name}", headers=H, json=body).status_code == 200
        assert "order" in c.get("/api/maps", headers=H).json()
        assert c.get("/api/maps/ir_asc.png", headers=H).status_code == 200
        out.append(time.perf_counter() - t)
    return out


def in_browser(path: Path, repeats: int) -> list[float]:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from sigmascene.editor import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(path, TOKEN, port=port), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    out = []
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=["--no-sandbox"])
            page = b.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
            page.wait_for_selector("body[data-maps-revision]", timeout=120_000)
            for k in range(repeats):
                name, body = edits(k + repeats)
                ms = page.evaluate("""async ([name, body]) => {
                    const t = performance.now();
                    const r = await fetch(`/api/subjects/${name}`, {method: "PATCH", credentials: "same-origin",
                        headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
                    const rev = (await r.json()).revision;
                    // the page's own update path: the state listener schedules the maps, which land in the DOM
                    const { call } = await import("/static/api.js");
                    await call("GET", "/api/scene");
                    while (Number(document.body.dataset.mapsRevision) < rev) await new Promise(ok => setTimeout(ok, 5));
                    return performance.now() - t;
                }""", [name, body])
                out.append(ms / 1000)
            b.close()
    finally:
        server.should_exit = True
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--no-browser", action="store_true", help="Skip the browser measurement.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = make_file(Path(tmp))
        rows = [row("server: PATCH + maps JSON + IR_asc PNG", server_side(path, args.repeats))]
        if not args.no_browser and shutil.which("chromium"):
            rows.append(row("browser: PATCH -> new maps on screen", in_browser(path, args.repeats)))
    print(f"Editor latency, 10 subjects at 1024x1024, {os.cpu_count()} CPUs (ms)\n")
    print("| path | edits | median | p90 | best |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
