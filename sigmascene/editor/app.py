"""The ASGI app: the scene API (the page uses nothing else, so scripts can drive it), static files, the guard.

Routes (docs/editor.md has the full list): GET/PUT/PATCH /api/scene, PATCH /api/subjects/{name},
POST /api/subjects/{name}/reorder, POST /api/undo|redo|save|reload, GET /api/maps, /api/maps/{name}.png and /api/frame,
GET/POST /api/files, POST /api/render (a stream of JSON lines) and its cancel.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import SigmaError
from . import heap, scene_ops
from .document import ExternalChange, disk_error
from .files import get_file, upload_file
from .render_job import cancel_render, render_image, start_render
from .schemas import (MAX_JSON_BODY, BodyTooLarge, ReorderBody, SaveBody, SceneChange, SourceBody,
                      SubjectChange, read_model)
from .security import MAX_UPLOAD, Guard, PathRefused, allowed_hosts
from .state import EditorState, diag_json
from .views import MAP_NAMES, METHOD_PICTURES, frame_json, map_png, maps_json

STATIC = Path(__file__).with_name("static")


def error(err: SigmaError, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": err.diagnostics[0].message if err.diagnostics else str(err),
                         "diagnostics": [diag_json(d, "") for d in err.diagnostics]}, status_code=status)


def status_of(err: SigmaError) -> int:
    """The HTTP answer for a refusal: 403 a path out of the folder, 409 a conflict (the file changed on disk, a
    render running), 413 a body over the limit, 507 a full disk; every other bad request 400."""
    if isinstance(err, PathRefused):
        return 403
    if isinstance(err, ExternalChange):
        return 409
    if isinstance(err, BodyTooLarge):
        return 413
    return int(getattr(err, "http_status", 400))


def create_app(scene_path: str | Path, token: str, *, root: str | Path | None = None,
               host: str = "127.0.0.1", port: int = 8765, extra_hosts: set[str] | None = None) -> Guard:
    """The editor for one scene file; `root` (default: the file's folder) bounds every file it reads or writes.
    `extra_hosts`: more Host header values to accept (`--allow-host`), as `name` or `name:port`."""
    st = EditorState(Path(scene_path), Path(root) if root else None)

    def guarded(fn):
        async def handler(request: Request) -> Response:
            try:
                return await fn(request)
            except SigmaError as err:
                return error(err, status_of(err))
            except OSError as err:  # a path the OS refuses (too long, under a file), a disk that is full
                err2 = disk_error(err, f"use the path this request names ({err.filename or request.url.path})")
                return error(err2, status_of(err2))
        return handler

    async def state_response() -> JSONResponse:
        return JSONResponse(await run_in_threadpool(st.state))

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def get_scene(request: Request) -> Response:
        return await state_response()

    async def put_scene(request: Request) -> Response:
        body = await read_model(request, SourceBody)
        st.doc.set_text(body.source, body.coalesce)
        st.precompile()
        return await state_response()

    async def patch_scene(request: Request) -> Response:
        body = await read_model(request, SceneChange)
        await run_in_threadpool(scene_ops.patch_scene, st, body)
        st.precompile()
        return await state_response()

    async def patch_subject(request: Request) -> Response:
        body = await read_model(request, SubjectChange)
        await run_in_threadpool(scene_ops.patch_subject, st, request.path_params["name"], body)
        st.precompile()
        return await state_response()

    async def reorder(request: Request) -> Response:
        body = await read_model(request, ReorderBody)
        await run_in_threadpool(scene_ops.reorder, st, request.path_params["name"], body)
        st.precompile()
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
        body = await read_model(request, SaveBody, optional=True)
        await run_in_threadpool(st.save, body.force)
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
        raw_size = request.query_params.get("size", "1024")
        if not (raw_size.isascii() and raw_size.isdigit() and len(raw_size) <= 6):
            raise SigmaError("size must be a whole number of pixels")
        size = int(raw_size)
        data = await run_in_threadpool(map_png, compiled, name, size)
        return Response(data, media_type="image/png", headers={"X-Revision": str(rev), "Cache-Control": "no-store"})

    async def frame(request: Request) -> Response:
        """GET /api/frame?layout=PX&maps=PX[&identity=0]: maps_json plus the layout and map pictures as data URLs
        (a size of 0 leaves those pictures out; identity=0 leaves I_S out): one compile, drawn at the sizes shown."""
        compiled, diags, rev = await run_in_threadpool(st.compiled)
        if compiled is None:
            return JSONResponse({"revision": rev, "error": True, "diagnostics": diags})
        raw = [request.query_params.get(k, d) for k, d in (("layout", "680"), ("maps", "256"))]
        if not all(r.isascii() and r.isdigit() and len(r) <= 6 for r in raw):
            raise SigmaError("layout and maps must be whole numbers of pixels")
        lay, small = (int(r) for r in raw)
        sizes = {"layout": lay, "ir_asc": small, "ir_desc": small, "i_t": small, "i_s": small}
        if request.query_params.get("identity") == "0":  # mid-drag: I_S changes only with the order
            del sizes["i_s"]
        picture = METHOD_PICTURES.get(request.query_params.get("method", ""))
        if picture is not None and "i_s" in sizes:  # "what the model sees" for the chosen render method
            sizes[picture] = small
        sizes = {name: px for name, px in sizes.items() if px > 0}  # 0: not this picture
        return JSONResponse(await run_in_threadpool(frame_json, compiled, rev, sizes),
                            headers={"Cache-Control": "no-store"})

    async def methods(request: Request) -> Response:
        """The render methods the Render button may use (the page's picker)."""
        from ..rendering.methods import method_names, method_spec

        names = method_names()
        await run_in_threadpool(heap.settle)  # the list just imported diffusers: settle now, not in the next drag
        return JSONResponse({"methods": [{"name": n, "summary": method_spec(n).summary,
                                          "picture": n in METHOD_PICTURES} for n in names],
                             "default": "sigma" if "sigma" in names else names[0]})

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
        Route("/api/frame", guarded(frame), methods=["GET"]),
        Route("/api/methods", guarded(methods), methods=["GET"]),
        Route("/api/files/{path:path}", guarded(lambda r: get_file(st, r)), methods=["GET"]),
        Route("/api/files", guarded(lambda r: upload_file(st, r)), methods=["POST"]),
        Route("/api/render", guarded(lambda r: start_render(st, r)), methods=["POST"]),
        Route("/api/render/{job}/cancel", guarded(lambda r: cancel_render(st, r)), methods=["POST"]),
        Route("/api/render/{job}/image.png", guarded(lambda r: render_image(st, r)), methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.editor = st
    hosts = allowed_hosts(host, port)
    for h in extra_hosts or set():  # `--allow-host NAME`: the name with this port (and bare, as some clients send)
        hosts |= {h, f"{h}:{port}"}
    return Guard(app, token, hosts, port=port, max_body=max(MAX_UPLOAD, MAX_JSON_BODY),
                 wildcard=host in ("0.0.0.0", "::", ""))
