"""The files a scene names, checked before anything reads them: confinement to a root, and OS errors as words.

A scene file is input from anyone: it may name `/dev/zero`, a path with a NUL byte, a 300-byte file name, a
symlink out of the project or `../../etc/passwd`. The parser, the asset loaders and `Scene.resolve` all come
through here, so each of those becomes the same located AssetError instead of a traceback — or, with a root
set (`--safe`, `--root DIR`, `root=`), a refusal before the file is opened.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import AssetError, SourceLoc


def confine(path: str | Path, root: str | Path | None, loc: SourceLoc | None = None, what: str = "file",
            written: str | None = None) -> Path:
    """`path` itself when no root is set or when it lies inside `root` after resolving symlinks and `..`;
    else an AssetError that names the path (as `written` in the scene, when given)."""
    path = Path(path)
    if root is None:
        return path
    check_name(path, loc, what)
    real, top = os.path.realpath(path), os.path.realpath(root)
    if real != top and not real.startswith(top.rstrip(os.sep) + os.sep):
        name = written if written is not None else str(path)
        shown = name if os.path.realpath(os.path.abspath(path)) == os.path.normpath(os.path.abspath(path)) \
            else f"{name} (really {real})"
        raise AssetError(f"{what} {shown} is outside the allowed folder {top}", loc,
                         "confined mode (--safe / --root / root=) only reads files inside the scene's folder; "
                         "move the file there, or choose a wider --root")
    return path


def check_name(path: str | Path, loc: SourceLoc | None, what: str) -> None:
    if "\x00" in str(path):
        raise AssetError(f"{what} path contains a NUL byte: {str(path)!r}", loc, "file names cannot hold \\0")


def stat_regular(path: Path, loc: SourceLoc | None, what: str, hint: str | None = None,
                 missing: str | None = None) -> os.stat_result:
    """os.stat of a regular file; every way that can fail is a located AssetError (`missing`: its message when
    there is no such file)."""
    check_name(path, loc, what)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AssetError(missing or f"{what} file not found: {path}", loc, hint) from None
    except NotADirectoryError:
        raise AssetError(f"{what} file not found: {path} (a folder on its way is a file)", loc) from None
    except PermissionError:
        raise AssetError(f"{what} file is not readable (permission denied): {path}", loc) from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise AssetError(f"{what} file name is too long for this file system: {_short(path)}", loc,
                             "file names hold at most 255 bytes") from None
        raise AssetError(f"cannot read {what} file {_short(path)}: {exc.strerror or exc}", loc) from None
    except ValueError as exc:  # what os.stat still refuses by value
        raise AssetError(f"{what} path cannot be used: {_short(path)} ({exc})", loc) from None
    if stat.S_ISDIR(st.st_mode):
        raise AssetError(f"{what} path is a folder, not a file: {path}", loc)
    if not stat.S_ISREG(st.st_mode):
        raise AssetError(f"{what} path is not a regular file (a device, pipe or socket): {path}", loc)
    if not os.access(path, os.R_OK):
        raise AssetError(f"{what} file is not readable (permission denied): {path}", loc)
    return st


def _short(path: Path, keep: int = 120) -> str:
    s = str(path)
    return s if len(s) <= keep else f"{s[:keep // 2]}…{s[-keep // 2:]} ({len(s)} characters)"
