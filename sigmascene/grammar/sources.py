"""Reading `.sigma` files: regular files only, size-limited before reading, decoded with a located error.

An `include` can name anything — `/dev/zero` reads forever, `/etc/passwd` would be quoted in the syntax error —
so included files must be regular `.sigma` files no larger than MAX_SCENE_BYTES, and only `.sigma` files are
ever quoted in a diagnostic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import AssetError, SigmaSyntaxError, SourceLoc, remember_source
from ..core.paths import stat_regular

MAX_SCENE_BYTES = 10_000_000  # a 5 MB file of comments parses in about a second; no real scene is near this
SCENE_SUFFIX = ".sigma"


def read_scene_file(path: Path, loc: SourceLoc | None = None, *, file: str | None = None,
                    include: bool = False) -> str:
    """The text of a scene file. `file` is the name diagnostics use; `include` demands the `.sigma` suffix."""
    file = str(path) if file is None else file
    if include and path.suffix != SCENE_SUFFIX:
        raise AssetError(f"include names {path.name!r}, which is not a {SCENE_SUFFIX} file", loc,
                         f"only {SCENE_SUFFIX} scene files can be included")
    st = stat_regular(path, loc, "scene", missing=f"no such scene file: {path}")
    if st.st_size > MAX_SCENE_BYTES:
        raise AssetError(f"scene file {path} is {st.st_size / 1e6:.1f} MB, over the "
                         f"{MAX_SCENE_BYTES / 1e6:.0f} MB limit for a scene", loc)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SCENE_BYTES + 1)
    except OSError as exc:
        raise AssetError(f"cannot read {path}: {exc.strerror or exc}", loc) from None
    if len(data) > MAX_SCENE_BYTES:  # it grew between stat and read
        raise AssetError(f"scene file {path} is over the {MAX_SCENE_BYTES / 1e6:.0f} MB limit for a scene", loc)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _not_utf8(data, err, file, path.suffix == SCENE_SUFFIX) from None


def _not_utf8(data: bytes, err: UnicodeDecodeError, file: str, quote: bool) -> SigmaSyntaxError:
    """Bytes that are not UTF-8, located by line and column like every other error (not by byte offset)."""
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    line_start = data.rfind(b"\n", 0, err.start) + 1
    line = data.count(b"\n", 0, err.start) + 1
    column = len(data[max(line_start, bom):err.start].decode("utf-8", errors="replace")) + 1
    if quote:
        remember_source(file, data[bom:].decode("utf-8", errors="replace"))
    bad = data[err.start:err.end].hex(" ")
    return SigmaSyntaxError(f"the file is not UTF-8 text: byte{'s' if err.end - err.start > 1 else ''} {bad} "
                            f"({err.reason})", SourceLoc(file, line, column),
                            "save the file as UTF-8 (most editors offer it under 'Save with encoding')")


@dataclass(frozen=True)
class LineEnds:
    """How a scene file spells its line ends and whether it starts with a BOM, so a tool that rewrites the
    file (`fmt`, the editor's Save) gives a Windows file back as it came. The text in between uses `\n`; a lone
    `\r` is left as it is (the grammar reads it as part of the line, e.g. of a comment, not as a line end)."""

    bom: bool = False
    crlf: bool = False

    @classmethod
    def of(cls, raw: bytes) -> "LineEnds":
        return cls(bom=raw.startswith(b"\xef\xbb\xbf"), crlf=b"\r\n" in raw)

    @staticmethod
    def text(raw: bytes) -> str:
        """The file's text with `\n` line ends (UnicodeDecodeError when it is not UTF-8)."""
        return raw.decode("utf-8-sig").replace("\r\n", "\n")

    def encode(self, text: str) -> bytes:
        text = text.replace("\r\n", "\n")
        return (("\ufeff" if self.bom else "") + (text.replace("\n", "\r\n") if self.crlf else text)).encode("utf-8")


def read_scene_bytes(path: Path, *, file: str | None = None) -> tuple[bytes, str]:
    """A scene file's exact bytes and its text (`LineEnds.text`), with `read_scene_file`'s checks and errors."""
    read_scene_file(path, file=file)  # regular file, size limit, UTF-8 — the located errors
    with open(path, "rb") as fh:
        raw = fh.read(MAX_SCENE_BYTES + 1)
    if len(raw) > MAX_SCENE_BYTES:
        raise AssetError(f"scene file {path} is over the {MAX_SCENE_BYTES / 1e6:.0f} MB limit for a scene")
    try:
        return raw, LineEnds.text(raw)
    except UnicodeDecodeError as err:  # it changed between the two reads
        raise _not_utf8(raw, err, str(path) if file is None else file, True) from None
