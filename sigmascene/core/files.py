"""Writing files so that a reader never sees half of one, with the permissions the user asked for.

Every file the project writes for later reading (datasets, compiled maps, renders, sidecars, caches, run records,
reformatted scenes) goes through `atomic_path`: the bytes land in a hidden file beside the target, which is
renamed over it only when complete, so a crash or Ctrl-C leaves the old file or the new one, never a torn one.
`tempfile.mkstemp` would create that file with mode 0600 and the rename would carry 0600 over to the result;
here the file is created the way `open()` creates one (0666 less the umask), and a file being replaced keeps
its own mode, so a shared dataset stays readable by the group that shares it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import ConfigError


def _hidden_sibling(path: Path, tag: str) -> Path:
    return path.parent / f".{path.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}.tmp"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a fresh hidden file beside `path` to write into; on success it replaces `path`, else it is removed.

    The temporary file exists (empty) when yielded, created with the umask's mode, so a library that opens it
    for writing (PIL, safetensors) keeps that mode.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _hidden_sibling(path, "part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
    os.close(fd)
    try:
        yield tmp
        try:
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))  # replacing a file: keep the mode its owner gave it
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks (LoRAs and checkpoints run to hundreds of MB): one digest for
    checkpoints, render sidecars and eval fingerprints."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def save_image_atomic(image, path: str | Path, **save_args) -> None:
    """A PIL image to `path` (PNG unless `format=` says otherwise), whole or not at all."""
    save_args.setdefault("format", "PNG")
    with atomic_path(path) as tmp:
        image.save(tmp, **save_args)


def make_dir_beside(path: str | Path, tag: str) -> Path:
    """A new hidden folder beside `path` with the umask's mode (`tempfile.mkdtemp` makes it 0700, and a folder
    renamed into place would keep that)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = _hidden_sibling(path, tag)
        try:
            os.mkdir(tmp, 0o777)
            return tmp
        except FileExistsError:
            continue


#: The PNG text chunk (key, value prefix) on pictures sigmascene draws for people (previews, contact sheets), so a
#: re-run may replace its own picture while a user's PNG of the same name is refused unless they pass --force.
PNG_MARK = ("Software", "sigmascene")


def png_mark(what: str = "preview"):
    """PngInfo for PIL's `save(pnginfo=...)` carrying PNG_MARK."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(PNG_MARK[0], f"{PNG_MARK[1]} {what}")
    return info


def has_png_mark(path: str | Path) -> bool:
    try:
        from PIL import Image

        with Image.open(path) as im:
            return str(im.info.get(PNG_MARK[0], "")).startswith(PNG_MARK[1])
    except (OSError, ValueError, SyntaxError):
        return False


def refuse_unmarked_png(path: str | Path, force: bool, what: str, flag: str) -> None:
    """An existing PNG at `path` that sigmascene did not draw (no PNG_MARK) is a user's: refused unless `force`.
    `what` names our kind of picture, `flag` the option that chose the path (for the hint)."""
    if Path(path).exists() and not force and not has_png_mark(path):
        raise ConfigError(f"{path} already exists and is not a sigmascene {what}; refusing to overwrite it",
                          hint=f"choose another {flag}, or pass --force to replace it")


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def write_new(path: str | Path, data: bytes) -> None:
    """Create `path` holding `data`, or raise FileExistsError if anything at all is there — a file, a folder, a
    symbolic link, even a dangling one (`exists()` is False for that, and a plain open would write through it).

    `O_CREAT | O_EXCL` refuses a link at the last component by definition; the folder is opened without
    following a link (`O_NOFOLLOW`) and the file created relative to it, so a folder swapped for a link after the
    caller checked it is refused too. A failed write removes the partial file."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    dir_fd = None
    if os.open in os.supports_dir_fd and _DIRECTORY:
        dir_fd = os.open(path.parent, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    try:
        name = path.name if dir_fd is not None else str(path)
        fd = os.open(name, flags, 0o666, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except BaseException:
            os.unlink(name, dir_fd=dir_fd)
            raise
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
