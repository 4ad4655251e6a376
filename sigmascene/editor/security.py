"""Who may talk to the editor and which files it may touch.

A local web server is reachable by every page the user's browser opens, so: a random token on every request
(header `X-Sigmascene-Token`, or the cookie the first `/?token=` visit sets — named with the port, since browsers
send a 127.0.0.1 cookie to every port, and compared as bytes in constant time); the Host header must name this
server (DNS rebinding); a browser's Origin / Sec-Fetch-Site must be this server (cross-site requests); and every
path a request or a scene names must resolve — symlinks followed — inside the scene's folder. The paths a scene
names are confined by the grammar itself (`parse_text(..., root=)`, see state.py), before any file is opened;
what stays here is only what a scene load cannot see: the paths HTTP requests name.
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

COOKIE = "sigmascene_token"  # the cookie is COOKIE + "_" + port: see cookie_name
HEADER = "x-sigmascene-token"
MAX_UPLOAD = 25 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MESH_SUFFIXES = (".obj", ".ply", ".glb", ".stl")


class PathRefused(AssetError):
    """A path that leaves the scene's folder: answered 403, never read or written."""


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_name(port: int) -> str:
    """One cookie per server: browsers do not isolate cookies by port, so a shared name would be sent to every
    other server on 127.0.0.1 and a second editor would overwrite (log out) the first."""
    return f"{COOKIE}_{port}"


def same_token(given: str | None, token: str) -> bool:
    """Constant-time, on bytes: a header arrives as latin-1 text, a query as percent-decoded UTF-8, and
    `hmac.compare_digest` raises TypeError on non-ASCII `str`."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8"))


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
        import warnings

        from PIL import Image, UnidentifiedImageError

        from ..compiler.assets import MAX_PIXELS  # the image loader's limit: what it would refuse is not added

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as im:
                    if im.width * im.height > MAX_PIXELS:
                        raise AssetError(f"{name} is {im.width}x{im.height} pixels, over the "
                                         f"{MAX_PIXELS // 1_000_000} megapixel limit", hint="downscale it first")
                    im.load()
        except Image.DecompressionBombError:
            raise AssetError(f"{name} is over the {MAX_PIXELS // 1_000_000} megapixel limit",
                             hint="downscale it first") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as err:
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
    """ASGI middleware: token, Host and Origin checks before anything else runs, and a declared body size over
    `max_body` refused before a byte of it is read (the routes also stop reading at their limit).

    `wildcard`: the server listens on every interface (`--host 0.0.0.0`), so a Host header naming the very
    address the connection arrived on (the ASGI `server` of the request) is this machine, reached from the LAN;
    a rebinding attack names a host, never the listening socket's own address."""

    def __init__(self, app: ASGIApp, token: str, hosts: set[str], *, port: int = 0, max_body: int = MAX_UPLOAD,
                 wildcard: bool = False):
        self.app, self.token, self.hosts = app, token, hosts
        self.cookie, self.max_body, self.wildcard = cookie_name(port), max_body, wildcard

    def _host_ok(self, host: str, scope: Scope) -> bool:
        if host in self.hosts:
            return True
        server = scope.get("server")
        if self.wildcard and server and server[0]:
            addr, port = server[0], server[1]
            shown = f"[{addr}]" if ":" in addr else addr
            return host in (f"{shown}:{port}",) + ((shown,) if port == 80 else ())
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the editor has none; refuse rather than guard a second protocol
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if not self._host_ok(host, scope):
            await _deny(403, f"host {host!r} is not this editor (DNS rebinding guard)", scope, receive, send)
            return
        origin = headers.get("origin")
        if origin is not None and not self._host_ok(urlsplit(origin).netloc, scope):
            await _deny(403, "cross-site request refused", scope, receive, send)
            return
        if headers.get("sec-fetch-site") == "cross-site":
            await _deny(403, "cross-site request refused", scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = headers.get(HEADER) or _cookie(headers.get("cookie", ""), self.cookie)
        from_url = (query.get("token") or [None])[0]
        if from_url is not None and scope["path"] == "/" and same_token(from_url, self.token):
            resp = RedirectResponse("/", status_code=303)
            resp.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
            await resp(scope, receive, send)
            return
        if not same_token(given, self.token):
            await _deny(403, "missing or wrong access token: open the URL `sigmascene edit` printed", scope,
                        receive, send)
            return
        declared = headers.get("content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > self.max_body):
            bad = not declared.strip().isdigit()
            await _deny(400 if bad else 413, "Content-Length must be a whole number of bytes" if bad else
                        f"the request body is {int(declared) / 1e6:.1f} MB; the limit is "
                        f"{self.max_body // 2**20} MB", scope, receive, send)
            return
        await self.app(scope, receive, send)


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


async def _deny(status: int, message: str, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"error": message}, status_code=status)(scope, receive, send)


def allowed_hosts(host: str, port: int) -> set[str]:
    """Host header values that name this server. A wildcard bind (0.0.0.0, ::) is reached by this machine's
    own names and the addresses of its interfaces (its LAN address among them), so those are allowed; any other
    name is a rebinding attempt unless the user names it with `--allow-host`."""
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
        names |= {f"[{a}]" if ":" in a else a for a in interface_addresses()}
    else:
        names = {f"[{host}]" if ":" in host else host}
    out = set()
    for n in names:
        out |= {f"{n}:{port}", n} if port == 80 else {f"{n}:{port}"}
    return out


def interface_addresses() -> set[str]:
    """This machine's interface addresses (psutil when installed; else what the host name resolves to — the
    Guard also accepts the address each connection actually arrived on, so a LAN address works either way)."""
    try:
        import psutil
    except ImportError:
        return set()
    out = set()
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family.name in ("AF_INET", "AF_INET6"):
                out.add(str(a.address).split("%")[0])
    return out


def browser_file(url: str) -> Path:
    """A page that sends the browser on to `url`, in a folder only this user can read (0700, the file 0600).

    Why: a browser started with the URL has the token on its command line, which every local user can read in
    /proc. Opening this file instead (as Jupyter does) keeps the token inside the user's own files. The caller
    removes the folder when the server stops (`atexit` here as well, for an interrupted run)."""
    import atexit
    import html
    import json
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="sigmascene-edit-"))  # mode 0700
    atexit.register(shutil.rmtree, folder, True)
    page = folder / "open.html"
    fd = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={html.escape(url)}">'
                 f"<title>sigmascene edit</title><script>location.replace({json.dumps(url)})</script>"
                 f'<p><a href="{html.escape(url)}">Open the editor</a></p>\n')
    return page
