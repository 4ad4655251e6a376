"""A lock file that keeps a second writer out of a dataset folder, and lets a crashed one's lock be taken over.

Two `data synth` runs on one folder would both render the missing samples and append them twice. The lock holds
the owner's pid and host; a lock whose process is gone on this host is stale (a kill -9, a power cut) and is
replaced, so a crash never needs a manual clean-up.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from ..errors import SigmaError

LOCK_FILE = ".sigmascene.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class FolderLock:
    """`with FolderLock(root, "data synth"):` — refuses (SigmaError naming the holder) while another holds it."""

    def __init__(self, root: str | Path, what: str) -> None:
        self.path = Path(root) / LOCK_FILE
        self.what = what
        self._held = False

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "what": self.what}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None:  # being written this instant, or unreadable: look again
                    holder = {}
                same_host = holder.get("host") == me["host"]
                pid = holder.get("pid")
                if isinstance(pid, int) and same_host and not _alive(pid):
                    self.path.unlink(missing_ok=True)  # stale: its process is gone
                    continue
                who = f"{holder.get('what', 'another process')} (pid {pid} on {holder.get('host', '?')})"
                raise SigmaError(f"{self.path.parent} is being written by {who}; lock file {self.path}",
                                 hint="wait for it to finish, or stop it; if no such process is running, delete "
                                      "the lock file") from None
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(me, fh)
            self._held = True
            return
        raise SigmaError(f"cannot take the lock {self.path}", hint="delete it if no other process uses the folder")

    def release(self) -> None:
        if self._held:
            holder = self._holder()
            if holder is None or holder.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self) -> "FolderLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
