"""`sigmascene edit`: open a scene in the browser editor (sigmascene/editor), served on this machine only."""

from __future__ import annotations

import asyncio
import os
import threading
import webbrowser
from pathlib import Path

import typer

from ..errors import SigmaError
from ._app import app
from .common import console, user_errors


@app.command()
def edit(
    file: Path = typer.Argument(..., help="The `.sigma` scene to edit (a missing file starts from a template)."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port to serve on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to bind; anything but 127.0.0.1 is reachable by others."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Print the URL without opening a browser."),
    allow_host: list[str] = typer.Option([], "--allow-host", metavar="NAME",
                                         help="Also accept this name in the Host header (a DNS name other machines "
                                              "use for this one with --host 0.0.0.0); repeatable."),
) -> None:
    """Edit a scene in the browser.

    Drag 2D and 3D placements, see the maps live, save the same file."""
    from ..model.loading import quiet_library_imports

    quiet_library_imports()  # the method list and renders import diffusers later: no warnings in the terminal
    with user_errors():
        try:
            from ..editor import create_app
            from ..editor.security import browser_file, new_token
            from ..editor.serve import listen, server_for
        except ImportError as err:
            raise SigmaError(f"the editor needs its extra packages ({err.name} is missing)",
                             hint='pip install "sigmascene[editor]"') from None
        if file.suffix != ".sigma":
            raise SigmaError(f"{file} is not a .sigma file")
        if file.exists() and not file.is_file():
            raise SigmaError(f"{file} is not a file")
        if os.path.lexists(file):  # binary junk, a symlink loop or a dangling link: one error, not a traceback or
            from ..grammar.sources import read_scene_file  # a template silently saved over the link

            read_scene_file(file)
        if not file.parent.exists():
            raise SigmaError(f"folder {file.parent} does not exist")
        if host not in ("127.0.0.1", "localhost", "::1"):
            console.print(f"warning: serving on {host}: other machines can reach this editor; the token is the only "
                          f"protection", style="yellow")
        sock = listen(host, port)
        port = sock.getsockname()[1]
        token = new_token()
        asgi = create_app(file, token, host=host, port=port, extra_hosts=set(allow_host))
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}/?token={token}"
        if not file.exists():
            console.print(f"{file} does not exist yet: starting from a template (saving creates it)")
        # The socket already listens: a client that connects the moment it reads this line is queued by the
        # kernel and answered as soon as uvicorn's loop runs, never refused.
        print(f"sigmascene edit: {url}", flush=True)
        if not no_browser:
            page = browser_file(url)  # the token stays off the browser's command line (/proc is world-readable)
            threading.Thread(target=webbrowser.open, args=(page.as_uri(),), daemon=True).start()
        asyncio.run(server_for(asgi).serve(sockets=[sock]))

