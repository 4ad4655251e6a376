"""Files in the scene's folder: reading references for the inspector, and adding dropped references/meshes.

A dropped file is checked (size, decodes as an image or mesh) and copied under a name that does not exist yet,
so nothing already in the folder is overwritten.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from ..errors import AssetError
from .security import IMAGE_SUFFIXES, MAX_UPLOAD, MESH_SUFFIXES, check_upload, confine
from .state import EditorState

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


async def get_file(st: EditorState, request: Request) -> Response:
    full = confine(st.root, request.path_params["path"])
    if full.suffix.lower() not in IMAGE_SUFFIXES + MESH_SUFFIXES + (".sigma",) or not full.is_file():
        return JSONResponse({"error": "no such image, mesh or scene file in the scene's folder"}, status_code=404)
    return FileResponse(full, headers={"Cache-Control": "no-store"})


def free_name(folder: Path, name: str) -> Path:
    stem, suffix = Path(name).stem, Path(name).suffix
    cand, k = folder / name, 1
    while cand.exists():
        cand = folder / f"{stem}-{k}{suffix}"
        k += 1
    return cand


async def upload_file(st: EditorState, request: Request) -> Response:
    """POST /api/files?name=refs/corgi.png with the file's bytes as the body; answers {"path": "refs/..."}."""
    rel = request.query_params.get("name", "")
    declared = int(request.headers.get("content-length") or 0)
    if declared > MAX_UPLOAD:
        raise AssetError(f"upload is {declared / 1e6:.1f} MB; the limit is {MAX_UPLOAD // 2**20} MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD:
            raise AssetError(f"upload is over the {MAX_UPLOAD // 2**20} MB limit")
        chunks.append(chunk)
    data = b"".join(chunks)
    parent = Path(rel).parent.as_posix()
    clean = _SAFE.sub("_", Path(rel).name).lstrip(".") or "file"
    folder = confine(st.root, parent) if parent not in ("", ".") else st.root
    confine(st.root, (Path(parent) / clean).as_posix())
    kind = await run_in_threadpool(check_upload, clean, data)
    folder.mkdir(parents=True, exist_ok=True)
    folder = confine(st.root, os.path.relpath(folder, st.root))  # a link made meanwhile must not lead out
    target = free_name(folder, clean)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)
    rel_out = target.relative_to(st.root).as_posix()
    scene_rel = os.path.relpath(target, st.path.parent).replace(os.sep, "/")
    return JSONResponse({"path": scene_rel, "root_path": rel_out, "kind": kind, "bytes": len(data)})
