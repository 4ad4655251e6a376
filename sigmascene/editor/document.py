"""The open file: its text (the one truth), undo/redo over every change, atomic save, and watching the disk.

Every change — typed in the source pane or made by dragging in the picture — is a new text; history keeps
texts, so undo after a drag and undo after typing are the same operation and undoing back to the start gives the
file's bytes back exactly. A drag sends many small edits with one `coalesce` key; they make one undo step.

The file is read exactly as the grammar reads it (`grammar.sources`: UTF-8, a BOM dropped, no newline
translation, so a lone `\r` inside a comment stays inside it); the text held here has `\n` line ends, and Save
writes the file's own line ends and BOM back (`LineEnds`, shared with `fmt`). "Changed by another program" is
decided on the bytes: the hash of what was last read or written against the hash of what is on disk now.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import Diagnostic, SigmaError
from ..grammar.sources import LineEnds, read_scene_bytes
from ..scene import Scene
from .new_scene import TEMPLATE

HISTORY = 500


class ExternalChange(SigmaError):
    """Saving would overwrite a change another program made to the file (answered 409)."""


class DiskError(SigmaError):
    """A write the disk refused (full, read-only, no permission); `http_status` says which answer fits."""

    def __init__(self, message: str, http_status: int = 400, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.http_status = http_status


def disk_error(err: OSError, what: str) -> DiskError:
    """An OSError as one line saying why: 507 for a full disk or quota, 400 for the rest."""
    full = err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
    why = "the disk is full" if full else (err.strerror or str(err))
    hint = "free some space and try again" if full else None
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = "the folder or file is read-only for this user; save a copy somewhere writable"
    return DiskError(f"cannot {what}: {why}", 507 if full else 400, hint)


@dataclass
class Parsed:
    text: str
    scene: Scene | None
    diagnostics: list[Diagnostic]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Document:
    def __init__(self, path: Path, parse: Callable[[str], Parsed]):
        self.path = path
        self._parse_fn = parse
        self.lock = threading.RLock()
        self.undo_stack: list[tuple[str, str | None]] = []  # (text, coalesce key of the change that left it)
        self.redo_stack: list[str] = []
        self.revision = 0
        self.created = not os.path.lexists(path)
        self.ends = LineEnds()
        self.saved_text: str | None = None
        self.saved_raw: bytes | None = None  # the bytes last read or written: undo to them writes them back
        self.disk_hash: str | None = None
        self.text = TEMPLATE
        if not self.created:
            self.text = self._load()
        self._parsed: Parsed | None = None

    def _load(self) -> str:
        """Read the file as the grammar does and remember its bytes; SigmaError (located) if it cannot be."""
        raw, text = read_scene_bytes(self.path)
        self.ends, self.saved_text, self.saved_raw, self.disk_hash = LineEnds.of(raw), text, raw, digest(raw)
        return text

    def encoded(self, text: str) -> bytes:
        """The bytes Save writes for `text`: the file's own bytes when the text is what they hold."""
        if text == self.saved_text and self.saved_raw is not None:
            return self.saved_raw
        return self.ends.encode(text)

    # -- reading ----------------------------------------------------------------------------------------------
    def parsed(self) -> Parsed:
        with self.lock:
            if self._parsed is None or self._parsed.text != self.text:
                self._parsed = self._parse_fn(self.text)
            return self._parsed

    @property
    def dirty(self) -> bool:
        return self.text != self.saved_text

    def disk_changed(self) -> bool:
        """True when another program changed (or removed) the file since we loaded or saved it."""
        try:
            now = digest(self.path.read_bytes())
        except FileNotFoundError:
            return self.disk_hash is not None
        except OSError:
            return False
        return now != self.disk_hash

    # -- changing ---------------------------------------------------------------------------------------------
    def set_text(self, text: str, coalesce: str | None = None) -> None:
        with self.lock:
            if text == self.text:
                return
            top = self.undo_stack[-1] if self.undo_stack else None
            if coalesce is None or top is None or top[1] != coalesce:
                self.undo_stack.append((self.text, coalesce))
                del self.undo_stack[:-HISTORY]
            self.redo_stack.clear()
            self.text = text
            self.revision += 1

    def edit(self, change: Callable[[str, Scene], str], coalesce: str | None = None) -> None:
        """Apply a text change computed from the current valid scene."""
        with self.lock:
            p = self.parsed()
            if p.scene is None:
                raise SigmaError("fix the errors in the source first; the picture edits a valid scene")
            self.set_text(change(self.text, p.scene), coalesce)

    def undo(self) -> bool:
        with self.lock:
            if not self.undo_stack:
                return False
            self.redo_stack.append(self.text)
            self.text = self.undo_stack.pop()[0]
            self.revision += 1
            return True

    def redo(self) -> bool:
        with self.lock:
            if not self.redo_stack:
                return False
            self.undo_stack.append((self.text, None))
            self.text = self.redo_stack.pop()
            self.revision += 1
            return True

    def end_coalesce(self) -> None:
        """The next change starts a new undo step even if it carries the same key (a new drag)."""
        with self.lock:
            if self.undo_stack:
                self.undo_stack[-1] = (self.undo_stack[-1][0], None)

    # -- disk -------------------------------------------------------------------------------------------------
    def save(self, force: bool = False) -> None:
        with self.lock:
            if not force and self.disk_changed():
                raise ExternalChange(f"{self.path.name} was changed by another program since it was opened",
                                 hint="reload it, or save again with force to overwrite that change")
            data = self.encoded(self.text)
            try:
                write_atomic(self.path, data)
            except OSError as err:  # read-only, full, gone: the file on disk is as it was
                raise disk_error(err, f"save {self.path.name}") from None
            self.saved_text, self.saved_raw = self.text, data
            self.disk_hash = digest(data)
            self.created = False

    def reload(self) -> None:
        """Read the file again (an undoable change); a file that is gone or is not UTF-8 is refused, unchanged."""
        with self.lock:
            if not os.path.lexists(self.path):
                raise SigmaError(f"{self.path.name} no longer exists on disk; Save writes it again")
            text = self._load()
            self.set_text(text)

    def status(self) -> dict[str, Any]:
        return {"revision": self.revision, "dirty": self.dirty, "external_change": self.disk_changed(),
                "can_undo": bool(self.undo_stack), "can_redo": bool(self.redo_stack), "new_file": self.created}


def write_atomic(path: Path, data: bytes) -> None:
    """Write beside the file and rename over it, keeping the old file's permissions (or the umask's)."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
