"""Draw the small reference images, masks and meshes the example scenes use.

Everything is procedural (Pillow shapes, trimesh solids) so the examples need no downloaded images, and the
output is deterministic: `python examples/make_assets.py` rewrites byte-identical files (a test checks this).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SIZE = 256   # half of a 1024² canvas's 512² identity block at most 2x: the compiler warns beyond that
UNIT = 128   # the drawings below are laid out on a 128-unit grid and scaled to SIZE


class _Scaled:
    """ImageDraw with coordinates on the 128-unit grid, so the drawings stay readable at any SIZE."""

    def __init__(self, img: Image.Image):
        self.draw, self.k = ImageDraw.Draw(img), img.width / UNIT

    def _xy(self, xy):
        if isinstance(xy[0], (int, float)):
            return [v * self.k for v in xy]
        return [(x * self.k, y * self.k) for x, y in xy]

    def __getattr__(self, name):
        fn = getattr(self.draw, name)

        def scaled(xy, *args, **kw):
            if "width" in kw:
                kw["width"] = max(1, round(kw["width"] * self.k))
            if name == "rounded_rectangle" and args:
                args = (args[0] * self.k,) + args[1:]
            return fn(self._xy(xy), *args, **kw)
        return scaled


def _canvas(bg=(236, 236, 232)) -> tuple[Image.Image, "_Scaled"]:
    img = Image.new("RGB", (SIZE, SIZE), bg)
    return img, _Scaled(img)


def corgi() -> Image.Image:
    img, d = _canvas()
    d.ellipse((22, 52, 104, 100), fill=(214, 130, 50))           # body
    d.ellipse((40, 70, 86, 100), fill=(250, 245, 235))           # white belly
    d.ellipse((74, 30, 114, 66), fill=(214, 130, 50))            # head
    d.polygon([(78, 38), (84, 12), (94, 34)], fill=(190, 110, 40))   # ears
    d.polygon([(96, 34), (106, 12), (110, 38)], fill=(190, 110, 40))
    d.ellipse((98, 44, 104, 50), fill=(30, 25, 20))              # eye
    for x in (32, 50, 72, 88):
        d.rectangle((x, 94, x + 8, 110), fill=(214, 130, 50))   # legs
    return img


def armchair() -> Image.Image:
    img, d = _canvas()
    d.rounded_rectangle((28, 18, 100, 78), 12, fill=(160, 40, 48))   # back
    d.rounded_rectangle((14, 56, 36, 104), 8, fill=(140, 32, 40))    # arms
    d.rounded_rectangle((92, 56, 114, 104), 8, fill=(140, 32, 40))
    d.rectangle((34, 72, 94, 100), fill=(180, 52, 60))               # seat
    d.rectangle((20, 104, 28, 118), fill=(80, 50, 30))
    d.rectangle((100, 104, 108, 118), fill=(80, 50, 30))
    return img


def lamp() -> Image.Image:
    img, d = _canvas()
    d.polygon([(40, 14), (88, 14), (104, 52), (24, 52)], fill=(246, 214, 92))   # shade
    d.rectangle((61, 52, 67, 108), fill=(60, 60, 64))                            # pole
    d.ellipse((40, 104, 88, 118), fill=(60, 60, 64))                             # foot
    return img


def plant() -> Image.Image:
    img, d = _canvas()
    d.polygon([(44, 84), (84, 84), (78, 118), (50, 118)], fill=(170, 90, 60))   # pot
    for (cx, cy, r) in ((64, 50, 22), (46, 62, 16), (82, 60, 16), (60, 26, 14), (74, 34, 12)):
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(58, 140, 64))
    return img


def vase() -> Image.Image:
    img, d = _canvas()
    d.ellipse((34, 46, 94, 114), fill=(44, 90, 180))
    d.rectangle((52, 18, 76, 56), fill=(44, 90, 180))
    d.rectangle((48, 14, 80, 20), fill=(30, 70, 150))
    for y in (64, 80, 96):
        d.line((40, y, 88, y), fill=(230, 230, 240), width=3)  # stripes make it recognisable
    return img


def sofa() -> Image.Image:
    img, d = _canvas()
    d.rounded_rectangle((10, 36, 118, 80), 10, fill=(110, 118, 130))
    d.rectangle((10, 70, 118, 100), fill=(128, 136, 148))
    d.rounded_rectangle((4, 60, 22, 104), 6, fill=(96, 104, 116))
    d.rounded_rectangle((106, 60, 124, 104), 6, fill=(96, 104, 116))
    return img


def cat() -> Image.Image:
    img, d = _canvas()
    d.ellipse((26, 56, 96, 104), fill=(70, 70, 76))
    d.ellipse((70, 30, 108, 68), fill=(70, 70, 76))
    d.polygon([(74, 40), (78, 18), (88, 34)], fill=(70, 70, 76))
    d.polygon([(92, 34), (102, 18), (104, 42)], fill=(70, 70, 76))
    d.ellipse((80, 44, 86, 50), fill=(120, 200, 90))
    d.ellipse((94, 44, 100, 50), fill=(120, 200, 90))
    d.line((28, 80, 10, 50), fill=(70, 70, 76), width=6)
    return img


def ball() -> Image.Image:
    img, d = _canvas()
    d.ellipse((24, 24, 104, 104), fill=(230, 60, 60))
    d.arc((24, 24, 104, 104), 200, 340, fill=(255, 255, 255), width=6)
    return img


def lamp_mask(size: int = 256) -> Image.Image:
    """Silhouette of the lamp, drawn where the living room puts it (canvas fractions, any resolution)."""
    img = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(img)
    s = size / 100
    d.polygon([(30 * s, 14 * s), (42 * s, 14 * s), (46 * s, 26 * s), (26 * s, 26 * s)], fill=255)
    d.rectangle((35 * s, 26 * s, 37 * s, 62 * s), fill=255)
    d.ellipse((30 * s, 60 * s, 42 * s, 64 * s), fill=255)
    return img


def vase_mesh_obj() -> str:
    """A lathed vase, 1 m tall with its foot at the origin (scale it in the scene), as OBJ text."""
    import trimesh

    profile = np.array([[0.0, 0.0], [0.30, 0.0], [0.42, 0.25], [0.38, 0.55], [0.16, 0.78], [0.14, 0.95],
                        [0.20, 1.0], [0.0, 1.0]])
    solid = trimesh.creation.revolve(profile, sections=24)
    solid.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))  # lathe axis z -> y
    lines = [f"v {x:.5f} {y:.5f} {z:.5f}" for x, y, z in solid.vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in solid.faces]
    return "# vase proxy made by examples/make_assets.py\n" + "\n".join(lines) + "\n"


REFS = {"corgi": corgi, "armchair": armchair, "lamp": lamp, "plant": plant, "vase": vase, "sofa": sofa,
        "cat": cat, "ball": ball}


def main(out: Path = HERE) -> list[Path]:
    written = []
    (out / "refs").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    (out / "meshes").mkdir(exist_ok=True)
    for name, draw in REFS.items():
        p = out / "refs" / f"{name}.png"
        draw().save(p, optimize=True)
        written.append(p)
    p = out / "masks" / "lamp.png"
    lamp_mask().save(p, optimize=True)
    written.append(p)
    p = out / "meshes" / "vase.obj"
    p.write_text(vase_mesh_obj())
    written.append(p)
    return written


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=HERE, help="folder to write refs/, masks/, meshes/ into")
    for path in main(ap.parse_args().out):
        print(path)
