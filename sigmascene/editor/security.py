"""Who may talk to the editor and which files it may touch.

A local web server is reachable by every page the user's browser opens, so: a random token on every request
(header `X-Sigmascene-Token`, or the cookie the first `/?token=` visit sets); the Host header must name this
server (DNS rebinding); a browser's Origin / Sec-Fetch-Site must be this server (cross-site requests); and every
path a request or a scene names must resolve — symlinks followed — inside the scene's folder. The paths a scene
names are confined by the grammar itself (`parse_text(..., root=)`, see state.py), before any file is opened;
what stays here is only what a scene load cannot see: the paths HTTP requests name.
"""

from __future__ import annotations

import hmac
import io
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from starlette.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import AssetError, Diagnostic

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
    """A path a *request* names (a file to serve, an upload's name), resolved inside `root`, or PathRefused.

    Stricter than the scene's confinement: a request path must be written relative with no `..` at all, not
    merely end up inside. Whether it resolves inside — symlinks followed — is decided by `sigmascene.core.paths`, the
    check the grammar applies to the paths a scene names, so the two cannot disagree."""
    from ..core import paths

    if not rel or "\x00" in rel:
        raise PathRefused("empty path")
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or rel.startswith(("/", "\\")):
        raise PathRefused(f"path {rel!r} leaves the scene's folder", hint="use a path relative to the scene's folder")
    try:
        paths.confine(root / p, root)
    except AssetError:
        raise PathRefused(f"path {rel!r} resolves outside the scene's folder (through a symbolic link)") from None
    return (root / p).resolve()


def editor_hints(diags: list[Diagnostic]) -> list[Diagnostic]:
    """The grammar's refusals with the editor's remedy: `--safe` / `--root` mean nothing in the browser."""
    out = []
    for d in diags:
        if "is outside the allowed folder" in d.message:
            d = Diagnostic(d.message + "; the editor reads only inside it", d.loc,
                           "copy the file into the scene's folder (drop it on the inspector)", d.severity, d.related)
        out.append(d)
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
                addr = str(info[4][0])
                names.add(f"[{addr}]" if ":" in addr else addr)
        except OSError:
            pass
    else:
        names = {f"[{host}]" if ":" in host else host}
    out = set()
    for n in names:
        out |= {f"{n}:{port}", n} if port == 80 else {f"{n}:{port}"}
    return out
