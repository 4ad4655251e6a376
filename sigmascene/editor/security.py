"""Who may talk to the editor and which files it may touch.

A local web server is reachable by every page the user's browser opens, so: a random token on every request
(header `X-Sigmascene-Token`, or the cookie the first `/?token=` visit sets); the Host header must name this
server (DNS rebinding); a browser's Origin / Sec-Fetch-Site must be this server (cross-site requests); and every
path a request or a scene names must resolve — symlinks followed — inside the scene's folder.
"""

from __future__ import annotations

import hmac
import io
import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from starlette.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import AssetError, Diagnostic
from ..scene import Mask, Mesh, Scene

COOKIE = "sigmascene_token"
HEADER = "x-sigmascene-token"
MAX_UPLOAD = 25 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MESH_SUFFIXES = (".obj", ".ply", ".glb", ".stl")


class PathRefused(AssetError):
    """A path that leaves the scene's folder: answered 403, never read or written."""


def new_token() -> str:
    return secrets.token_urlsafe(24)


def confine(root: Path, rel: str) -> Path:
    """`rel` resolved inside `root` (symlinks followed), or AssetError: no `..`, no absolute paths, no links out."""
    if not rel or "\x00" in rel:
        raise PathRefused("empty path")
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or rel.startswith(("/", "\\")):
        raise PathRefused(f"path {rel!r} leaves the scene's folder", hint="use a path relative to the scene's folder")
    full = (root / p).resolve()
    try:
        full.relative_to(root.resolve())
    except ValueError:
        raise PathRefused(f"path {rel!r} resolves outside the scene's folder (through a symbolic link)") from None
    return full


def scene_paths(scene: Scene) -> list[tuple[str, object]]:
    """(path, node) for every file a scene names."""
    out: list[tuple[str, object]] = []
    for s in scene.subjects:
        out.append((s.ref, s))
        if s.depth_map:
            out.append((s.depth_map, s))
        if isinstance(s.placement, (Mask, Mesh)):
            out.append((s.placement.path, s.placement))
    return out


def outside_paths(scene: Scene, root: Path) -> list[Diagnostic]:
    """A located error for each file the scene names outside the folder the editor may read."""
    out = []
    for path, node in scene_paths(scene):
        try:
            confine(root, os.path.relpath(scene.resolve(path), root))
        except AssetError as err:
            loc = getattr(node, "loc", None)
            out.append(Diagnostic(err.diagnostics[0].message + "; the editor reads only inside it", loc,
                                  "copy the file into the scene's folder (drop it on the inspector)"))
    return out


def include_problems(text: str, file: str, root: Path, depth: int = 0) -> list[Diagnostic]:
    """Includes are read while parsing, so their paths are checked on the bare syntax tree first."""
    from ..grammar.parser import parse_source

    try:
        parsed = parse_source(text, file)
    except Exception:  # noqa: BLE001 - the real parse reports syntax errors with locations
        return []
    out = []
    for st in parsed.stmts:
        if st.kind != "include" or st.value.param is not None:
            continue
        try:
            if Path(st.value.value).is_absolute():
                raise AssetError(f"path {st.value.value!r} leaves the scene's folder")
            target = confine(root, os.path.relpath(Path(file).parent / st.value.value, root))
        except AssetError as err:
            out.append(Diagnostic(err.diagnostics[0].message, st.value.loc))
            continue
        if depth < 8 and target.is_file():
            out += include_problems(target.read_text(encoding="utf-8", errors="replace"), str(target), root, depth + 1)
    return out


def check_upload(name: str, data: bytes) -> str:
    """Refuse an upload that is too big or does not decode as what its name says; return its kind."""
    if len(data) > MAX_UPLOAD:
        raise AssetError(f"upload is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD // 2**20} MB")
    suffix = Path(name).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as im:
                if im.width * im.height > 50_000_000:
                    raise AssetError(f"{name} is {im.width}x{im.height} pixels, too large")
                im.load()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
            raise AssetError(f"{name} does not decode as an image ({err})") from None
        return "image"
    if suffix in MESH_SUFFIXES:
        import trimesh

        try:
            mesh = trimesh.load(io.BytesIO(data), file_type=suffix[1:], force="mesh")
        except Exception as err:  # noqa: BLE001 - trimesh raises many kinds for a bad file
            raise AssetError(f"{name} does not decode as a mesh ({err})") from None
        if len(getattr(mesh, "vertices", [])) == 0:
            raise AssetError(f"{name} holds no mesh vertices")
        return "mesh"
    raise AssetError(f"{name}: only images ({', '.join(IMAGE_SUFFIXES)}) and meshes ({', '.join(MESH_SUFFIXES)}) "
                     f"can be added")


class Guard:
    """ASGI middleware: token, Host and Origin checks before anything else runs."""

    def __init__(self, app: ASGIApp, token: str, hosts: set[str]):
        self.app, self.token, self.hosts = app, token, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the editor has none; refuse rather than guard a second protocol
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if host not in self.hosts:
            await _deny(403, f"host {host!r} is not this editor (DNS rebinding guard)", scope, receive, send)
            return
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc not in self.hosts:
            await _deny(403, "cross-site request refused", scope, receive, send)
            return
        if headers.get("sec-fetch-site") == "cross-site":
            await _deny(403, "cross-site request refused", scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = headers.get(HEADER) or _cookie(headers.get("cookie", ""))
        from_url = (query.get("token") or [None])[0]
        if from_url is not None and scope["path"] == "/" and hmac.compare_digest(from_url, self.token):
            resp = RedirectResponse("/", status_code=303)
            resp.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
            await resp(scope, receive, send)
            return
        if not given or not hmac.compare_digest(given, self.token):
            await _deny(403, "missing or wrong access token: open the URL `sigmascene edit` printed", scope,
                        receive, send)
            return
        await self.app(scope, receive, send)


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == COOKIE:
            return v
    return None


async def _deny(status: int, message: str, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"error": message}, status_code=status)(scope, receive, send)


def allowed_hosts(host: str, port: int) -> set[str]:
    """Host header values that name this server. A wildcard bind (0.0.0.0, ::) is reached by this machine's
    own names and addresses, so those are allowed; any other name is a rebinding attempt."""
    if host in ("127.0.0.1", "localhost"):
        names = {"127.0.0.1", "localhost"}
    elif host == "::1":
        names = {"[::1]"}
    elif host in ("0.0.0.0", "::", ""):
        import socket

        names = {"127.0.0.1", "localhost", "[::1]", "0.0.0.0", socket.gethostname(), socket.getfqdn()}
        try:
            for info in socket.getaddrinfo(socket.gethostname(), None):
                addr = info[4][0]
                names.add(f"[{addr}]" if ":" in addr else addr)
        except OSError:
            pass
    else:
        names = {f"[{host}]" if ":" in host else host}
    out = set()
    for n in names:
        out |= {f"{n}:{port}", n} if port == 80 else {f"{n}:{port}"}
    return out
