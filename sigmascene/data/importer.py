"""`data import`: a folder of a user's own images (+ masks, depth, captions, identity images) as a dataset.

Source layout (every part optional except the images; see docs/dataset.md):

    SRC/images/NAME.png             target images (or directly in SRC/)
    SRC/masks/NAME/SUBJECT.png      one mask per subject (non-zero = visible part), or
    SRC/masks/NAME.png              an instance-id map (pixel value k > 0 = subject k)
    SRC/depth/NAME.npy              metres (or a 16-bit PNG in millimetres)
    SRC/identity/NAME/SUBJECT.png   the subject in ANOTHER pose/lighting (what SET27K made with Flux-Kontext)
    SRC/captions.json               {"NAME": {"background": .., "full": .., "subjects": {"SUBJECT": ..},
                                              "ids": {"1": "SUBJECT"}}}
    SRC/camera.json                 {"fx", "fy", "cx", "cy"} for all images, or {"NAME": {...}} per image

Missing pieces can come from the user's own models through command templates (`--segment-cmd`, `--depth-cmd`,
`--repose-cmd`), so a SET27K-style pipeline (segment → depth → repose) runs with whatever local models the user
has. Where no identity image exists, a crop of the target is used — and reported loudly, because a model trained
on crops learns to copy pixels rather than identities.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import AssetError, ConfigError, SigmaError
from .geometry import intrinsics_from_fov, mask_box
from .io import append_sample, index_path, load_depth, load_mask, load_rgb, save_npy, save_png
from .schema import CameraRecord, Prompts, Sample, SubjectRecord

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


@dataclass
class ImportOptions:
    masks: Optional[Path] = None  # default SRC/masks
    depth: Optional[Path] = None  # default SRC/depth
    identity: Optional[Path] = None  # default SRC/identity
    captions: Optional[Path] = None  # default SRC/captions.json
    camera: Optional[Path] = None  # default SRC/camera.json
    fov: float = 55.0
    segment_cmd: Optional[str] = None  # "{image} {out}": writes {out}/SUBJECT.png per subject
    depth_cmd: Optional[str] = None  # "{image} {out}": writes metres to {out} (.npy)
    repose_cmd: Optional[str] = None  # "{image} {mask} {caption} {out}": writes an identity image to {out}
    fit_boxes: bool = True


@dataclass
class ImportResult:
    samples: int = 0
    subjects: int = 0
    crops: int = 0
    notes: list[str] = field(default_factory=list)


def identifier(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "subject"
    return f"s_{name}" if name[0].isdigit() else name


def run_tool(template: str, what: str, **paths: str) -> None:
    """Run a user's model command; its placeholders ({image}, {out}, ...) are filled in shell-quoted."""
    try:
        cmd = template.format(**{k: shlex.quote(v) for k, v in paths.items()})
    except (KeyError, IndexError) as e:
        raise ConfigError(f"--{what}-cmd has an unknown placeholder {e}",
                         hint=f"available: {', '.join('{' + k + '}' for k in paths)}") from None
    proc = subprocess.run(shlex.split(cmd), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise SigmaError(f"--{what}-cmd failed (exit {proc.returncode}): {cmd}\n" + "\n".join(tail))


def _find(folder: Path, stem: str, suffixes=IMAGE_SUFFIXES) -> Path | None:
    for suf in suffixes:
        p = folder / f"{stem}{suf}"
        if p.exists():
            return p
    return None


def _load_json(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise AssetError(f"{path} is not valid JSON: {e.msg}", hint=f"line {e.lineno}, column {e.colno}") from None
    except UnicodeDecodeError as e:  # was a traceback
        raise AssetError(f"{path} is not UTF-8 text (byte {e.object[e.start]:02x} at offset {e.start})",
                         hint="save it as UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise AssetError(f"{path} must hold a JSON object")
    return data


def _fit_size(mask: np.ndarray, w: int, h: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((w, h), Image.Resampling.NEAREST)) > 0


class _Importer:
    def __init__(self, src: Path, out: Path, opts: ImportOptions):
        self.src, self.out, self.opts = src, out, opts
        self.images_dir = src / "images" if (src / "images").is_dir() else src
        self.masks_dir = opts.masks or src / "masks"
        self.depth_dir = opts.depth or src / "depth"
        self.identity_dir = opts.identity or src / "identity"
        self.captions = _load_json(opts.captions or src / "captions.json")
        self.cameras = _load_json(opts.camera or src / "camera.json")
        self.result = ImportResult()
        self.tmp = Path(tempfile.mkdtemp(prefix="sigma-import-"))

    def note(self, name: str, text: str) -> None:
        self.result.notes.append(f"{name}: {text}")

    def masks(self, stem: str, image: Path, w: int, h: int) -> dict[str, np.ndarray]:
        folder, idmap = self.masks_dir / stem, _find(self.masks_dir, stem, (".png",))
        if not folder.is_dir() and idmap is None and self.opts.segment_cmd:
            folder = self.tmp / "masks" / stem
            folder.mkdir(parents=True, exist_ok=True)
            run_tool(self.opts.segment_cmd, "segment", image=str(image), out=str(folder))
        out: dict[str, np.ndarray] = {}
        if folder.is_dir():
            files = {identifier(p.stem): p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
            listed = [identifier(n) for n in self.captions.get(stem, {}).get("subjects", {})]
            # the captions' subject order first (it is the user's file order), then the rest by name
            for name in [n for n in listed if n in files] + [n for n in files if n not in listed]:
                out[name] = load_mask(files[name])
        elif idmap is not None:
            from PIL import Image

            with Image.open(idmap) as im:
                ids = np.asarray(im)
            if ids.ndim == 3:
                ids = ids[..., 0]
            names = self.captions.get(stem, {}).get("ids", {})
            for k in sorted(int(v) for v in np.unique(ids) if v != 0):
                out[identifier(names.get(str(k), f"subject_{k}"))] = ids == k
        for name, m in list(out.items()):
            if m.shape != (h, w):
                self.note(stem, f"mask '{name}' is {m.shape[1]}x{m.shape[0]}, resized to the image's {w}x{h}")
                out[name] = _fit_size(m, w, h)
            if not out[name].any():
                self.note(stem, f"mask '{name}' is empty; subject dropped")
                del out[name]
        return out

    def depth(self, stem: str, image: Path, w: int, h: int) -> np.ndarray | None:
        path = _find(self.depth_dir, stem, (".npy", ".png", ".tif", ".tiff"))
        if path is None and self.opts.depth_cmd:
            path = self.tmp / "depth" / f"{stem}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            run_tool(self.opts.depth_cmd, "depth", image=str(image), out=str(path))
        if path is None:
            return None
        d = load_depth(path).astype(np.float32)
        if d.shape != (h, w):
            from PIL import Image

            self.note(stem, f"depth is {d.shape[1]}x{d.shape[0]}, resized to the image's {w}x{h}")
            d = np.asarray(Image.fromarray(d).resize((w, h), Image.Resampling.NEAREST), dtype=np.float32)
        return np.nan_to_num(np.maximum(d, 0.0), nan=0.0, posinf=0.0)

    def camera(self, stem: str, w: int, h: int) -> CameraRecord:
        c = self.cameras.get(stem, self.cameras)
        if all(k in c for k in ("fx", "fy", "cx", "cy")):
            return CameraRecord(fx=c["fx"], fy=c["fy"], cx=c["cx"], cy=c["cy"], width=w, height=h,
                                cam_to_world=c.get("cam_to_world"))
        fx, fy, cx, cy = intrinsics_from_fov(w, h, self.opts.fov)
        return CameraRecord(fx=fx, fy=fy, cx=cx, cy=cy, width=w, height=h, estimated=True)

    def identity(self, stem: str, name: str, rgb: np.ndarray, mask: np.ndarray, caption: str, dest: Path) -> str:
        """Write the subject's identity image; returns where it came from: given, repose or crop."""
        given = _find(self.identity_dir / stem, name)
        if given is not None:
            save_png(dest, load_rgb(given))
            return "given"
        cut = _cutout(rgb, mask)
        if self.opts.repose_cmd:
            crop_path, mask_path = self.tmp / f"{stem}_{name}_crop.png", self.tmp / f"{stem}_{name}_mask.png"
            save_png(crop_path, cut)
            save_png(mask_path, _cutout(np.full(mask.shape + (1,), 255, dtype=np.uint8), mask, bg=0)[..., 0])
            run_tool(self.opts.repose_cmd, "repose", image=str(crop_path), mask=str(mask_path), caption=caption,
                     out=str(dest))
            if not dest.exists():
                raise AssetError(f"--repose-cmd wrote nothing to {dest}")
            return "repose"
        save_png(dest, cut)
        self.result.crops += 1
        return "crop"

    def one(self, image: Path, sid: str) -> None:
        stem = image.stem
        try:
            rgb = load_rgb(image)
        except OSError as err:  # a stray non-image .png stopped the import with "check free space and permissions"
            self.note(stem, f"not a readable image ({err}); image skipped")
            return
        h, w = rgb.shape[:2]
        masks = self.masks(stem, image, w, h)
        if not masks:
            self.note(stem, "no masks (give masks/ or --segment-cmd); image skipped")
            return
        folder = self.out / "samples" / sid
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        save_png(folder / "image.png", rgb)
        depth = self.depth(stem, image, w, h)
        if depth is not None:
            save_npy(folder / "depth.npy", depth)
        cap = self.captions.get(stem, {})
        sub_caps = {identifier(k): v for k, v in cap.get("subjects", {}).items()}
        subjects = []
        for name, m in masks.items():
            caption = str(sub_caps.get(name, ""))
            save_png(folder / f"{name}_mask.png", m.astype(np.uint8) * 255)
            origin = self.identity(stem, name, rgb, m, caption, folder / f"{name}_identity.png")
            rel = f"samples/{sid}"
            subjects.append(SubjectRecord(name=name, identity=f"{rel}/{name}_identity.png",
                                          mask=f"{rel}/{name}_mask.png", box2d=mask_box(m), caption=caption,
                                          attributes={"identity_source": origin}))
        sample = Sample(id=sid, image=f"samples/{sid}/image.png", camera=self.camera(stem, w, h),
                        prompts=Prompts(background=str(cap.get("background", "")), full=str(cap.get("full", ""))),
                        depth=f"samples/{sid}/depth.npy" if depth is not None else None, subjects=subjects,
                        source=f"import:{image.name}")
        append_sample(self.out, sample)
        self.result.samples += 1
        self.result.subjects += len(subjects)


def _cutout(rgb: np.ndarray, mask: np.ndarray, margin: float = 0.08, bg: int = 255) -> np.ndarray:
    """The masked subject on a plain `bg`, cropped square around its box with a margin."""
    box = mask_box(mask)
    if box is None:  # empty masks were dropped when read
        raise ValueError("cutout of an empty mask")
    x0, y0, x1, y1 = box
    side = int(max(x1 - x0, y1 - y0) * (1 + 2 * margin)) + 1
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    canvas = np.full((side, side, rgb.shape[2]), bg, dtype=np.uint8)
    sx0, sy0 = cx - side // 2, cy - side // 2
    ys, xs = slice(max(sy0, 0), min(sy0 + side, rgb.shape[0])), slice(max(sx0, 0), min(sx0 + side, rgb.shape[1]))
    patch = np.where(mask[ys, xs, None], rgb[ys, xs], bg)
    canvas[ys.start - sy0:ys.stop - sy0, xs.start - sx0:xs.stop - sx0] = patch
    return canvas


def import_folder(src: str | Path, out: str | Path, opts: ImportOptions | None = None,
                  on_progress: Optional[Callable[[int, int], None]] = None) -> ImportResult:
    src, out = Path(src), Path(out)
    opts = opts or ImportOptions()
    if not src.is_dir():
        raise AssetError(f"{src} is not a folder")
    if not 0 < opts.fov < 180:  # also nan: nan, inf or a negative fov was a traceback after the first image
        raise ConfigError(f"--fov must be a vertical field of view in degrees between 0 and 180, got {opts.fov}",
                          hint="for example: --fov 55")
    if index_path(out).exists():
        raise SigmaError(f"{out} already holds a dataset", hint="import into a new folder")
    imp = _Importer(src, out, opts)
    images = sorted(p for p in imp.images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise AssetError(f"no images in {imp.images_dir}", hint=f"expected files ending in {', '.join(IMAGE_SUFFIXES)}")
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    try:
        for k, image in enumerate(images):
            if on_progress:
                on_progress(k, len(images))
            sid = identifier(image.stem)
            while sid in used:
                sid += "_"
            used.add(sid)
            imp.one(image, sid)
    finally:
        shutil.rmtree(imp.tmp, ignore_errors=True)
    if on_progress:
        on_progress(len(images), len(images))
    if imp.result.samples and opts.fit_boxes:
        from .fitboxes import fit_dataset

        fitted = fit_dataset(out)
        imp.result.notes += fitted["notes"]
    return imp.result
