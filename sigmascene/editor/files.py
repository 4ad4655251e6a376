"""Files in the scene's folder: reading references for the inspector, adding dropped references/meshes, and
the one way the editor creates a file (uploads, moved masks, renders).

Nothing the editor writes replaces anything: a new file gets a name at which nothing exists — not a file, not a
folder, not a symbolic link, dangling or not — for every file written together (a render's PNG *and* its JSON
sidecar), and is created exclusively (`core.files.write_new`: O_EXCL, the folder opened with O_NOFOLLOW). The
folder is decided on its resolved path, inside the editor's root, before anything is opened; a `renders` that
is a link leading out of the folder is refused, not followed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from ..core.files import write_new
from ..errors import AssetError
from .document import disk_error
from .schemas import read_bytes
from .security import IMAGE_SUFFIXES, MAX_UPLOAD, MESH_SUFFIXES, PathRefused, check_upload, confine
from .state import EditorState

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 120  # characters of a file name the editor makes (most filesystems stop at 255 bytes)


async def get_file(st: EditorState, request: Request) -> Response:
    full = confine(st.root, request.path_params["path"])
    if full.suffix.lower() not in IMAGE_SUFFIXES + MESH_SUFFIXES + (".sigma",) or not full.is_file():
        return JSONResponse({"error": "no such image, mesh or scene file in the scene's folder"}, status_code=404)
    return FileResponse(full, headers={"Cache-Control": "no-store"})


def free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `stem-1.suffix`, ... : the first at which nothing exists (a dangling link counts)."""
    stem, suffix = Path(name).stem, Path(name).suffix
    cand, k = folder / name, 1
    while os.path.lexists(cand):
        cand = folder / f"{stem}-{k}{suffix}"
        k += 1
    return cand


def folder_inside(st: EditorState, folder: Path) -> Path:
    """`folder` (absolute or relative to the root) made if missing, as its resolved path inside the root.

    Decided before and after making it: a link that leads out — there already, or made meanwhile — is refused."""
    rel = os.path.relpath(folder, st.root) if folder.is_absolute() else folder.as_posix()
    if rel in ("", "."):
        return st.root
    confine(st.root, rel)
    try:
        (st.root / rel).mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise AssetError(f"{rel} is in the way: it is not a folder") from None
    except OSError as err:
        raise disk_error(err, f"make the folder {rel}") from None
    out = confine(st.root, rel)
    if not out.is_dir():
        raise AssetError(f"{rel} is not a folder")
    return out


def write_free(folder: Path, stem: str, contents: Callable[[Path], dict[str, bytes]]) -> Path:
    """Write the files `contents(base)` gives ({suffix: bytes}) as `base + suffix`, for the first base name
    (`stem`, `stem-1`, ...) free for all of them; return the first file. Created exclusively: a name taken
    between the check and the write is skipped, never written through."""
    stem = stem[:MAX_NAME]
    for k in range(10_000):
        base = folder / (stem if k == 0 else f"{stem}-{k}")
        files = contents(base)
        paths = [base.with_name(base.name + suffix) for suffix in files]
        if any(os.path.lexists(p) for p in paths):
            continue
        done: list[Path] = []
        try:
            for p, data in zip(paths, files.values()):
                write_new(p, data)
                done.append(p)
        except FileExistsError:
            for p in done:
                p.unlink(missing_ok=True)
            continue
        except OSError as err:
            for p in done:
                p.unlink(missing_ok=True)
            raise disk_error(err, f"write {paths[len(done)].name}") from None
        return paths[0]
    raise AssetError(f"no free file name for {stem} in {folder}")


async def upload_file(st: EditorState, request: Request) -> Response:
    """POST /api/files?name=refs/corgi.png with the file's bytes as the body; answers {"path": "refs/..."}."""
    rel = request.query_params.get("name", "")
    if len(rel) > 1000:
        raise PathRefused("the file name is too long")
    data = await read_bytes(request, MAX_UPLOAD)
    parent = Path(rel).parent.as_posix()
    name = Path(rel).name
    clean = _SAFE.sub("_", Path(name).stem).lstrip(".")[:MAX_NAME] or "file"
    suffix = _SAFE.sub("_", Path(name).suffix)[:16]
    confine(st.root, (Path(parent) / (clean + suffix)).as_posix())
    kind = await run_in_threadpool(check_upload, clean + suffix, data)
    folder = await run_in_threadpool(folder_inside, st, Path(parent))
    target = await run_in_threadpool(write_free, folder, clean, lambda base: {suffix: data})
    rel_out = target.relative_to(st.root).as_posix()
    scene_rel = os.path.relpath(target, st.path.parent).replace(os.sep, "/")
    return JSONResponse({"path": scene_rel, "root_path": rel_out, "kind": kind, "bytes": len(data)})
