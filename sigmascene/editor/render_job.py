"""The Render button: `sigmascene.rendering.render.render_scene` in a background thread, its progress streamed as JSON
lines.

POST /api/render answers a stream: {"event": "started", "job": id}, then {"event": "progress", "step", "total"},
{"event": "note"}, and finally {"event": "done", "image": url, "sidecar": {...}} or {"event": "error"} /
{"event": "cancelled"}. The image and its sidecar are written into renders/ beside the scene, never over a file.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse

from ..errors import SigmaError
from .files import free_name
from .state import EditorState


class Job:
    def __init__(self, job_id: str):
        self.id = job_id
        self.cancel = threading.Event()
        self.image: Path | None = None


async def start_render(st: EditorState, request: Request) -> Response:
    from ..rendering.render import RenderCancelled, RenderOptions, render_scene, save_render

    try:
        data = await request.json() if await request.body() else {}
    except ValueError:
        data = {}
    p = st.doc.parsed()
    if p.scene is None:
        raise SigmaError("the scene has errors; fix them before rendering")
    scene = p.scene
    steps, seed = data.get("steps"), data.get("seed")
    if steps is not None and not (isinstance(steps, int) and 1 <= steps <= 1000):
        raise SigmaError("steps must be a whole number from 1 to 1000")
    if seed is not None and not (isinstance(seed, int) and seed >= 0):
        raise SigmaError("seed must be a whole number, zero or more")
    opts = RenderOptions(steps=steps, seed=seed, device=str(data.get("device", "auto")))
    job = Job(secrets.token_hex(6))
    st.jobs[job.id] = job
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def emit(event: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    def work() -> None:
        try:
            key = (opts.base, tuple(opts.loras), opts.device, opts.dtype)
            result = render_scene(scene, opts, note=lambda m: emit({"event": "note", "message": m}),
                                  progress=lambda i, n: emit({"event": "progress", "step": i, "total": n}),
                                  cancel=job.cancel, pipe=st.pipe_cache.get(key))
            out_dir = st.path.parent / "renders"
            out_dir.mkdir(exist_ok=True)
            target = free_name(out_dir, f"{st.path.stem}.png")
            written = save_render(result, target)
            job.image = written[0]
            emit({"event": "done", "image": f"/api/render/{job.id}/image.png",
                  "file": str(written[0].relative_to(st.path.parent)), "sidecar": result.sidecars[0]})
        except RenderCancelled:
            emit({"event": "cancelled"})
        except SigmaError as err:
            emit({"event": "error", "message": err.format()})
        except Exception as err:  # noqa: BLE001 - the page must hear why, the server must keep running
            emit({"event": "error", "message": f"{type(err).__name__}: {err}"})
        finally:
            emit({"event": "end"})

    threading.Thread(target=work, name=f"render-{job.id}", daemon=True).start()

    async def stream():
        yield json.dumps({"event": "started", "job": job.id}) + "\n"
        try:
            while True:
                ev = await queue.get()
                if ev["event"] == "end":
                    return
                yield json.dumps(ev, default=str) + "\n"
        finally:
            if job.image is None:
                job.cancel.set()  # the page went away: stop spending the CPU

    return StreamingResponse(stream(), media_type="application/x-ndjson", headers={"Cache-Control": "no-store"})


async def cancel_render(st: EditorState, request: Request) -> Response:
    job = st.jobs.get(request.path_params["job"])
    if job is None:
        return JSONResponse({"error": "no such render"}, status_code=404)
    job.cancel.set()
    return JSONResponse({"cancelled": True})


async def render_image(st: EditorState, request: Request) -> Response:
    job = st.jobs.get(request.path_params["job"])
    if job is None or job.image is None:
        return JSONResponse({"error": "no image for this render"}, status_code=404)
    return FileResponse(job.image, headers={"Cache-Control": "no-store"})
