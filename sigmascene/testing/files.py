"""Small files that stand in for big or broken ones in tests and benchmarks."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def png_claiming_size(path: Path, width: int, height: int) -> None:
    """Write an 8 x 8 PNG whose header says `width` x `height` (checksum fixed up): the image size checks see a
    huge picture without a huge file being written."""
    from PIL import Image

    Image.new("1", (8, 8)).save(path)
    b = bytearray(path.read_bytes())
    b[16:24] = struct.pack(">II", width, height)
    b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])))
    path.write_bytes(bytes(b))
