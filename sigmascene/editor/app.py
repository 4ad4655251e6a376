"""The ASGI app: the scene API (the page uses nothing else, so scripts can drive it), static files, the guard.

Routes (docs/editor.md has the full list): GET/PUT/PATCH /api/scene, PATCH /api/subjects/{name},
POST /api/subjects/{name}/reorder, POST /api/undo|redo|save|reload, GET /api/maps and /api/maps/{name}.png,
GET/POST /api/files, POST /api/render (a stream of JSON lines) and its cancel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import SigmaError
from . import scene_ops
from .files import get_file, upload_file
from .render_job import cancel_render, render_image, start_render
from .document import ExternalChange
from .security import Guard, PathRefused, allowed_hosts
from .state import EditorState, diag_json
from .views import MAP_NAMES, map_png, maps_json

STATIC = Path(__file__).with_name("static")
MAX_SOURCE = 2_000_000


def error(err: SigmaError, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": err.diagnostics[0].message if err.diagnostics else str(err),
                         "diagnostics": [diag_json(d, "") for d in err.diagnostics]}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise SigmaError("the request body must be JSON") from None
    if not isinstance(data, dict):
        raise SigmaError("the request body must be a JSON object")
    return data


def create_app(scene_path: str | Path, token: str, *, root: str | Path | None = None,
               host: str = "127.0.0.1", port: int = 8765, extra_hosts: set[str] | None = None) -> Guard:
    """The editor for one scene file; `root` (default: the file's folder) bounds every file it reads or writes."""
    st = EditorState(Path(scene_path), Path(root) if root else None)

    def guarded(fn):
        async def handler(request: Request) -> Response:
            try:
                return await fn(request)
            except SigmaError as err:
                status = 409 if isinstance(err, ExternalChange) else 403 if isinstance(err, PathRefused) else 400
                return error(err, status)
        return handler

    async def state_response() -> JSONResponse:
        return JSONResponse(await run_in_threadpool(st.state))

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def get_scene(request: Request) -> Response:
        return await state_response()

    async def put_scene(request: Request) -> Response:
        data = await _body(request)
        if not isinstance(data.get("source"), str):
            raise SigmaError("PUT /api/scene needs {\"source\": \"...\"}")
        if len(data["source"]) > MAX_SOURCE:
            raise SigmaError(f"a scene file over {MAX_SOURCE // 1000} kB is not something to edit here")
        st.doc.set_text(data["source"], data.get("coalesce"))
        return await state_response()

    async def patch_scene(request: Request) -> Response:
        data = await _body(request)
        await run_in_threadpool(scene_ops.patch_scene, st, data)
        return await state_response()

    async def patch_subject(request: Request) -> Response:
        data = await _body(request)
        await run_in_threadpool(scene_ops.patch_subject, st, request.path_params["name"], data)
        return await state_response()

    async def reorder(request: Request) -> Response:
        data = await _body(request)
        await run_in_threadpool(scene_ops.reorder, st, request.path_params["name"], data)
        return await state_response()

    async def undo(request: Request) -> Response:
        st.doc.undo()
        return await state_response()

    async def redo(request: Request) -> Response:
        st.doc.redo()
        return await state_response()

    async def end_step(request: Request) -> Response:
        st.doc.end_coalesce()
        return JSONResponse(st.doc.status())

    async def save(request: Request) -> Response:
        data = await _body(request) if await request.body() else {}
        await run_in_threadpool(st.doc.save, bool(data.get("force")))
        return await state_response()

    async def reload(request: Request) -> Response:
        await run_in_threadpool(st.doc.reload)
        return await state_response()

    async def status(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(st.doc.status))

    async def maps(request: Request) -> Response:
        compiled, diags, rev = await run_in_threadpool(st.compiled)
        if compiled is None:
            return JSONResponse({"revision": rev, "error": True, "diagnostics": diags})
        return JSONResponse(maps_json(compiled, rev))

    async def map_image(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in MAP_NAMES:
            return JSONResponse({"error": f"no map {name!r}; maps: {', '.join(MAP_NAMES)}"}, status_code=404)
        compiled, diags, rev = await run_in_threadpool(st.compiled)
        if compiled is None:
            return JSONResponse({"error": "the scene does not compile", "diagnostics": diags}, status_code=409)
        try:
            size = int(request.query_params.get("size", 1024))
        except ValueError:
            raise SigmaError("size must be a whole number of pixels") from None
        data = await run_in_threadpool(map_png, compiled, name, size)
        return Response(data, media_type="image/png", headers={"X-Revision": str(rev), "Cache-Control": "no-store"})

    routes = [
        Route("/", index),
        Route("/api/scene", guarded(get_scene), methods=["GET"]),
        Route("/api/scene", guarded(put_scene), methods=["PUT"]),
        Route("/api/scene", guarded(patch_scene), methods=["PATCH"]),
        Route("/api/subjects/{name}", guarded(patch_subject), methods=["PATCH"]),
        Route("/api/subjects/{name}/reorder", guarded(reorder), methods=["POST"]),
        Route("/api/undo", guarded(undo), methods=["POST"]),
        Route("/api/redo", guarded(redo), methods=["POST"]),
        Route("/api/end-step", guarded(end_step), methods=["POST"]),
        Route("/api/save", guarded(save), methods=["POST"]),
        Route("/api/reload", guarded(reload), methods=["POST"]),
        Route("/api/status", guarded(status), methods=["GET"]),
        Route("/api/maps", guarded(maps), methods=["GET"]),
        Route("/api/maps/{name}.png", guarded(map_image), methods=["GET"]),
        Route("/api/files/{path:path}", guarded(lambda r: get_file(st, r)), methods=["GET"]),
        Route("/api/files", guarded(lambda r: upload_file(st, r)), methods=["POST"]),
        Route("/api/render", guarded(lambda r: start_render(st, r)), methods=["POST"]),
        Route("/api/render/{job}/cancel", guarded(lambda r: cancel_render(st, r)), methods=["POST"]),
        Route("/api/render/{job}/image.png", guarded(lambda r: render_image(st, r)), methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.editor = st
    hosts = allowed_hosts(host, port) | (extra_hosts or set())
    return Guard(app, token, hosts)
