"""Draw the toy "photo" (and its depth) that examples/insert_room.sigma inserts subjects into.

A 64 x 64 room in the demo model's synthetic world style — pale blue wall, wooden floor, a low dark-red sofa in
front on the left — with its depth as a 16-bit PNG in millimetres (the dataset's convention). Procedural and
deterministic: `python examples/toy/make_room_photo.py` rewrites byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
SIZE = 64
HORIZON = 30  # rows above are wall, below floor
SOFA = (2, 38, 30, 60)  # x0, y0, x1, y1 in pixels


def draw() -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    rgb = np.zeros((SIZE, SIZE, 3), np.float32)
    wall = y < HORIZON
    rgb[wall] = (168, 192, 214)
    rgb[wall] -= (y[wall, None] / HORIZON) * 18  # light from above
    floor = ~wall
    plank = ((x + 0.35 * (y - HORIZON)) // 9) % 2  # diagonal planks
    rgb[floor] = np.where(plank[floor, None] > 0, (150, 108, 70), (136, 96, 60))
    depth = np.where(wall, 4.0, 4.0 - (y - HORIZON) / (SIZE - HORIZON) * 3.0)  # wall 4 m; floor comes near
    x0, y0, x1, y1 = SOFA
    sofa = (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
    rgb[sofa] = (120, 36, 40)
    rgb[sofa & (y < y0 + 6)] = (140, 48, 52)  # the back cushion, lit
    depth[sofa] = 1.2
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8), np.rint(depth * 1000).astype(np.uint16)


def main() -> None:
    rgb, depth_mm = draw()
    Image.fromarray(rgb, "RGB").save(HERE / "room_photo.png", optimize=True)
    Image.fromarray(depth_mm).save(HERE / "room_depth.png", optimize=True)  # mode I;16: millimetres


if __name__ == "__main__":
    main()
