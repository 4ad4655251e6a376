"""Serving the editor on a socket that already listens: `sigmascene edit` in the foreground, tests and benchmarks
on a thread. One way to start it, so what the tests and the latency benchmark measure is what `edit` runs."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path
from typing import Any

import uvicorn

from ..errors import SigmaError


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen before anything is printed, and hand this very socket to uvicorn (no second bind that
    another program could win, no timer guessing when the server is up)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are TCP;
    # with proto 0 every answer written in two parts (headers, body) waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if os.name != "nt":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as err:
        sock.close()
        raise SigmaError(f"cannot serve on {host}:{port}: {err.strerror}",
                         hint="pass another --port, or --port 0 for any free one") from None
    sock.set_inheritable(True)
    return sock


def server_for(app: Any):
    """The uvicorn server `edit` runs the app with (its own log lines only when something is wrong)."""
    return uvicorn.Server(uvicorn.Config(app, log_level="warning"))


class ServedInThread:
    """The editor for `scene` on 127.0.0.1, any free port, served from a daemon thread exactly as `edit` serves
    it (listening socket, uvicorn server); `base` is its URL, `stop()` ends it."""

    def __init__(self, scene: Path, token: str):
        from .app import create_app

        self.sock = listen("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.scene = scene
        self.server = server_for(create_app(scene, token, port=self.port))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])),
                                       daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
