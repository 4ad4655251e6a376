"""Bad assets, each compiled once: every one must end in a located SigmaError or a correct image, never a traceback.

    python3 benchmarks/bad_assets.py

Builds references, masks, depth maps and meshes that are broken in the ways real files are (truncated, empty,
a decompression bomb, 16-bit, rotated by EXIF, animated, CMYK, a FIFO, a 300-byte name, a NUL in the name, ...)
in a temporary folder, compiles a one-subject scene naming each, and prints one table row per case: the outcome
(`error` = a located SigmaError, `ok` = compiled and checked, `TRACEBACK` = anything else) and the message.
docs/reliability.md quotes the table.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


def cases(d: Path) -> list[tuple[str, str, str, object]]:
    """(name, kind, file name, maker) — kind is the scene item that names the file."""
    from PIL import Image

    from sigmascene.testing.files import png_claiming_size

    rgb = Image.new("RGB", (32, 24), (200, 80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6

    def save(img, name, **kw):
        return lambda: img.save(d / name, **kw)

    def write(name, data):
        return lambda: (d / name).write_bytes(data)

    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0))]
    out = [
        ("missing file", "ref", "nope.png", lambda: None),
        ("empty file", "ref", "empty.png", write("empty.png", b"")),
        ("text named .png", "ref", "text.png", write("text.png", b"hello")),
        ("truncated PNG", "ref", "trunc.png", lambda: (rgb.save(d / "t.png"), (d / "trunc.png").write_bytes(
            (d / "t.png").read_bytes()[:60]))),
        ("0x0 PNG header", "ref", "zero.png", lambda: png_claiming_size(d / "zero.png", 0, 0)),
        ("decompression bomb (30000^2)", "ref", "bomb.png", lambda: png_claiming_size(d / "bomb.png", 30000, 30000)),
        ("bomb as mask", "mask", "bombm.png", lambda: png_claiming_size(d / "bombm.png", 30000, 30000)),
        ("over 50 MP header", "ref", "big.png", lambda: png_claiming_size(d / "big.png", 8000, 7000)),
        ("16-bit grey PNG", "ref", "g16.png", save(Image.fromarray(np.full((24, 32), 32768, np.uint16)), "g16.png")),
        ("16-bit mask", "mask", "m16.png", save(Image.fromarray(np.full((24, 32), 40000, np.uint16)), "m16.png")),
        ("EXIF rotated JPEG", "ref", "rot.jpg", save(rgb, "rot.jpg", exif=exif.tobytes())),
        ("EXIF rotated mask", "mask", "rotm.png", save(Image.new("L", (32, 24), 255), "rotm.png", exif=exif.tobytes())),
        ("animated GIF", "ref", "anim.gif", lambda: frames[0].save(d / "anim.gif", save_all=True,
                                                                  append_images=frames[1:])),
        ("CMYK TIFF", "ref", "cmyk.tif", save(rgb.convert("CMYK"), "cmyk.tif")),
        ("palette + transparency", "ref", "pal.png", save(rgb.convert("P"), "pal.png", transparency=0)),
        ("float TIFF", "ref", "f.tif", save(Image.fromarray(np.full((24, 32), 0.5, np.float32)), "f.tif")),
        ("1-bit mask", "mask", "one.png", save(Image.new("1", (32, 24), 1), "one.png")),
        ("all-zero mask", "mask", "blank.png", save(Image.new("L", (32, 24), 0), "blank.png")),
        ("folder named .png", "ref", "dir.png", lambda: (d / "dir.png").mkdir()),
        ("FIFO named .png", "ref", "fifo.png", lambda: os.mkfifo(d / "fifo.png")),
        ("symlink loop", "ref", "loop.png", lambda: os.symlink(d / "loop.png", d / "loop.png")),
        ("300-byte name", "ref", "n" * 300 + ".png", lambda: None),
        ("NUL in name", "ref", "a\\u0000.png", lambda: None),
        ("depth map 8-bit PNG", "depth_map", "d8.png", save(Image.new("L", (32, 24), 9), "d8.png")),
        ("depth map .npy 3-D", "depth_map", "d3.npy", lambda: np.save(d / "d3.npy", np.ones((2, 2, 2)))),
        ("depth map .npy bomb header", "depth_map", "dbomb.npy", lambda: _npy_claiming(d / "dbomb.npy")),
        ("depth map pickled object", "depth_map", "obj.npy", lambda: np.save(d / "obj.npy", np.array([{}]),
                                                                             allow_pickle=True)),
        ("depth map NaN/inf", "depth_map", "nan.npy", lambda: np.save(d / "nan.npy", np.full((24, 32), np.nan))),
        ("mesh: text file", "mesh", "bad.obj", write("bad.obj", b"this is not a mesh")),
        ("mesh: no faces", "mesh", "pts.obj", write("pts.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\n")),
        ("mesh: NaN vertex", "mesh", "nan.obj", write("nan.obj", b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")),
        ("mesh: 1e-200 m across", "mesh", "tiny.obj", write("tiny.obj", b"v 0 0 0\nv 1e-200 0 0\nv 0 1e-200 0\n"
                                                                         b"f 1 2 3\n")),
        ("mesh: wrong suffix", "mesh", "m.txt", write("m.txt", b"v 0 0 0\n")),
        ("mesh: empty file", "mesh", "e.ply", write("e.ply", b"")),
    ]
    return out


def _npy_claiming(path: Path) -> None:
    """A tiny .npy whose header claims a 100000 x 100000 float array."""
    np.save(path, np.ones((2, 2), np.float32))
    raw = path.read_bytes().replace(b"(2, 2)", b"(100000, 100000)")
    path.write_bytes(raw)


def run_case(d: Path, name: str, kind: str, file: str) -> tuple[str, str]:
    import sigmascene
    from sigmascene.compiler import assets

    assets.clear_cache()
    Path(d / "ok.png").exists() or __import__("PIL.Image").Image.new("RGB", (64, 64)).save(d / "ok.png")
    item = {"ref": f'ref "{file}" box2d (0, 0, 1, 1)', "mask": f'ref "ok.png" mask "{file}"',
            "depth_map": f'ref "ok.png" box2d (0, 0, 1, 1) depth_map "{file}"',
            "mesh": f'ref "ok.png" mesh "{file}" {{ position (0, 0, -3) }}'}[kind]
    text = f"sigma 1\ncanvas 64 x 48\nsubject a {{ {item} }}\n"
    try:
        compiled = sigmascene.compile(sigmascene.loads(text, file=str(d / "case.sigma"), base_dir=d))
    except sigmascene.SigmaError as err:
        first = err.diagnostics[0]
        located = first.loc is not None and first.loc.line == 3
        return ("error" if located else "error (unlocated)"), first.message.replace(str(d) + "/", "")[:90]
    except Exception as exc:  # noqa: BLE001 - what this benchmark exists to find
        return "TRACEBACK", f"{type(exc).__name__}: {exc}"[:90]
    notes = "; ".join(w.split("warning: ")[-1] for w in compiled.warnings)[:90]
    return "ok", notes or "compiled"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rows = []
        for name, kind, file, make in cases(d):
            try:
                make()
            except OSError:
                pass
            rows.append((name, kind, *run_case(d, name, kind, file)))
    print("| bad asset | named by | outcome | message / note |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | `{r[1]}` | {r[2]} | {r[3].replace('|', '/')} |")
    bad = sum(r[2] == "TRACEBACK" for r in rows)
    print(f"\n{len(rows)} bad assets: {sum(r[2].startswith('error') for r in rows)} located errors, "
          f"{sum(r[2] == 'ok' for r in rows)} compiled correctly, {bad} tracebacks")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
