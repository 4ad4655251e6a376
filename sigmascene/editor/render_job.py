"""The Render button: the resolver's plan (`rendering.plan.resolve_plan`, the rules `render` checks) rendered by
`rendering.render.render_plan` in a background thread, its progress streamed as JSON lines.

POST /api/render answers a stream: {"event": "started", "job": id}, then {"event": "progress", "step", "total"},
{"event": "note"}, {"event": "log"} (library output: progress bars, warnings; `redraw` when it replaces the
previous line), and finally {"event": "done", "image": url, "sidecar": {...}} or {"event": "error"} /
{"event": "cancelled"}. The image and its sidecar are written into renders/ beside the scene, under a name free
for both (editor/files.write_free), never over a file and never through a link out of the folder. The scene is
saved first when the text differs from the file, so the sidecar's command (`sigmascene render FILE -o ...`)
renders the same picture again from the saved file.

One render at a time, process-wide: two at once raced each other loading the model (meta tensors) and left the
server unable to render until restart. A second request while one runs is refused with 409 (`RENDER_LOCK`).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse

from ..errors import SigmaError
from .files import folder_inside, write_free
from .quiet import to_page
from .schemas import RenderBody, read_model
from .state import EditorState

#: Held from a render's start to its end (model loading included); a small lock of its own, apart from the
#: render plumbing, so that whatever loads the model is never run twice at once.
RENDER_LOCK = threading.Lock()


class RenderBusy(SigmaError):
    """Another render is running (answered 409)."""

    http_status = 409


class Job:
    def __init__(self, job_id: str):
        self.id = job_id
        self.cancel = threading.Event()
        self.image: Path | None = None


async def start_render(st: EditorState, request: Request) -> Response:
    from ..rendering.plan import resolve_plan
    from ..rendering.render import (RenderCancelled, RenderRequest, image_bytes, load_model, render_plan,
                                    sidecar_bytes)

    body = await read_model(request, RenderBody, optional=True)
    p = st.doc.parsed()
    if p.scene is None:
        raise SigmaError("the scene has errors; fix them before rendering")
    if st.doc.dirty or st.doc.created:  # the sidecar's command re-renders from the file: the file must be this text
        await run_in_threadpool(st.save, False)
        p = st.doc.parsed()
    scene = p.scene
    assert scene is not None
    render_request = RenderRequest(steps=body.steps, seed=body.seed, method=body.method, device=body.device)
    plan = resolve_plan(render_request, scene)  # the seed rule and every other one: the resolver's, as for `render`
    # refused now, not after minutes of rendering: a `renders` that leads out of the folder (checked again on write)
    await asyncio.to_thread(folder_inside, st, st.path.parent / "renders")
    if not RENDER_LOCK.acquire(blocking=False):
        raise RenderBusy("a render is already running; wait for it to finish or cancel it")
    job = Job(secrets.token_hex(6))
    st.jobs[job.id] = job
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def emit(event: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    def work() -> None:
        try:
            def say(message: str) -> None:
                emit({"event": "note", "message": message})

            with to_page(lambda text, redraw: emit({"event": "log", "message": text, "redraw": redraw})):
                loaded = st.pipe_cache.get(plan.model)  # one model kept across renders, keyed by the weights' plan
                if loaded is None:
                    loaded = st.pipe_cache[plan.model] = load_model(plan.model, note=say)
                result = render_plan(scene, plan, note=say, cancel=job.cancel, loaded=loaded, source=st.path,
                                     progress=lambda i, n: emit({"event": "progress", "step": i, "total": n}))
            out_dir = folder_inside(st, st.path.parent / "renders")
            image, sidecar = result.images[0], result.sidecars[0]
            extra = result.files[0] if result.files else {}  # a method's own files (collage's layout image)

            side_json: dict[str, bytes] = {}

            def files(base: Path) -> dict[str, bytes]:
                png = base.with_name(base.name + ".png")
                side = dict(sidecar, files={k: f"{base.name}.{k}.png" for k in extra}) if extra else sidecar
                out = {".png": image_bytes(image, png)}  # first: write_free returns the first file
                out.update({f".{k}.png": image_bytes(pic, png) for k, pic in extra.items()})
                side_json["bytes"] = sidecar_bytes(side, png)
                return {**out, ".json": side_json["bytes"]}

            written = write_free(out_dir, st.path.stem, files)
            job.image = written
            emit({"event": "done", "image": f"/api/render/{job.id}/image.png",  # the sidecar as written
                  "file": os.path.relpath(written, st.path.parent).replace(os.sep, "/"),
                  "sidecar": json.loads(side_json["bytes"])})
        except RenderCancelled:
            emit({"event": "cancelled"})
        except SigmaError as err:
            emit({"event": "error", "message": err.format()})
        except Exception as err:  # noqa: BLE001 - the page must hear why, the server must keep running
            st.pipe_cache.clear()  # a half-loaded model is not kept for the next render
            emit({"event": "error", "message": f"{type(err).__name__}: {err}"})
        finally:
            RENDER_LOCK.release()
            emit({"event": "end"})

    try:
        threading.Thread(target=work, name=f"render-{job.id}", daemon=True).start()
    except BaseException:
        RENDER_LOCK.release()
        raise

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
    if job is None or job.image is None or not job.image.is_file():  # gone meanwhile: 404, not a 500
        return JSONResponse({"error": "no image for this render"}, status_code=404)
    return FileResponse(job.image, headers={"Cache-Control": "no-store"})
