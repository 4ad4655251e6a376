"""`data validate`: every way a sample can be unusable, reported at its `index.jsonl` line.

A trainer that meets a broken sample on step 40 000 wastes a run; a validator that says
`index.jsonl:812: error: mask of 'lamp' is 512x512 but the image is 640x480` costs a second. Errors are what
would make training or compiling fail or learn something false (missing files, sizes that disagree, boxes that
contradict masks); warnings are what is merely suspicious.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..scene import MAX_SUBJECTS, MENTION_RE
from .geometry import box_corners, mask_box, project
from .io import index_path, iter_index, load_depth, load_mask, parse_line, resolve
from .schema import Sample

# How far a box2d edge may sit from its mask's extent (pixels, or this fraction of the image side if larger).
BOX_TOLERANCE_PX, BOX_TOLERANCE_FRAC = 2.0, 0.01


@dataclass
class Problem:
    line: int  # 0: the dataset as a whole (no index.jsonl at all), not one of its lines
    message: str
    severity: str = "error"

    def format(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line > 0 else file  # never `index.jsonl:0`, a line that cannot exist
        return f"{where}: {self.severity}: {self.message}"


@dataclass
class Report:
    file: str
    samples: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        return [p.format(self.file) for p in sorted(self.problems, key=lambda p: p.line)]


def _image_size(path: Path) -> tuple[int, int] | str:
    """(width, height) of a decodable image, or why it is not one."""
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        return f"missing file {path}"
    try:
        with Image.open(path) as im:
            im.load()  # decode fully: a truncated PNG opens fine and fails only here
            return im.size
    except (UnidentifiedImageError, OSError, ValueError) as e:
        return f"cannot decode {path} ({e})"


class _Checker:
    def __init__(self, root: Path, sample: Sample, line: int):
        self.root, self.s, self.line = root, sample, line
        self.out: list[Problem] = []

    def err(self, msg: str) -> None:
        self.out.append(Problem(self.line, msg))

    def warn(self, msg: str) -> None:
        self.out.append(Problem(self.line, msg, "warning"))

    def run(self) -> list[Problem]:
        s = self.s
        w, h = s.width, s.height
        size = _image_size(resolve(self.root, s.image))
        if isinstance(size, str):
            self.err(f"image: {size}")
        elif size != (w, h):
            self.err(f"image is {size[0]}x{size[1]} but camera.width/height say {w}x{h}")
        if not (0 <= s.camera.cx <= w and 0 <= s.camera.cy <= h):
            self.warn(f"principal point ({s.camera.cx:g}, {s.camera.cy:g}) lies outside the {w}x{h} image")
        depth = self._depth()
        if not s.subjects:
            self.err("sample has no subjects")
        elif len(s.subjects) > MAX_SUBJECTS:
            self.err(f"{len(s.subjects)} subjects; a scene holds at most {MAX_SUBJECTS} (routing intensities 10..250)")
        masks = {sub.name: self._subject(sub, depth) for sub in s.subjects}
        self._overlaps({k: m for k, m in masks.items() if m is not None})
        names = {sub.name for sub in s.subjects}
        for m in MENTION_RE.finditer(s.prompts.full):
            if m.group(1) not in names:
                self.warn(f"`@{m.group(1)}` in prompts.full names no subject of this sample")
        if not s.prompts.background and not s.prompts.full:
            self.warn("no prompts (background and full are both empty)")
        return self.out

    def _depth(self) -> np.ndarray | None:
        s = self.s
        if not s.depth:
            return None
        path = resolve(self.root, s.depth)
        if not path.exists():
            self.err(f"depth: missing file {path}")
            return None
        try:
            d = load_depth(path)
        except Exception as e:  # noqa: BLE001 - any unreadable depth file is the same user problem
            self.err(f"depth: cannot read {path} ({e})")
            return None
        if d.ndim != 2 or not np.issubdtype(d.dtype, np.number):
            self.err(f"depth must be a 2-D numeric array, got shape {d.shape} ({d.dtype})")
            return None
        if d.shape != (s.height, s.width):
            self.err(f"depth is {d.shape[1]}x{d.shape[0]} but the image is {s.width}x{s.height}")
            return None
        if not np.isfinite(d).all() or (d < 0).any():
            self.err("depth has NaN, infinite or negative values (use 0 for unknown)")
            return None
        if not (d > 0).any():
            self.warn("depth is 0 everywhere (no known depth)")
        return d

    def _subject(self, sub, depth: np.ndarray | None) -> np.ndarray | None:
        who = f"subject '{sub.name}'"
        size = _image_size(resolve(self.root, sub.identity))
        if isinstance(size, str):
            self.err(f"{who}: identity image: {size}")
        if sub.identity == self.s.image:
            self.err(f"{who}: the identity image is the target image itself (that teaches copy-paste)")
        elif sub.attributes.get("identity_source") == "crop":
            self.warn(f"{who}: identity image is a crop of the target (teaches copy-paste, not identity)")
        if not sub.caption:
            self.warn(f"{who}: no caption")
        if sub.mask is None and sub.box2d is None and sub.box3d is None:
            self.err(f"{who}: no placement at all (needs a mask, box2d or box3d)")
        mask = self._mask(sub, who)
        if sub.box2d is not None:
            self._box2d(sub, mask, who)
        if sub.box3d is not None:
            self._box3d(sub, mask, who)
        if mask is not None and depth is not None and not (depth[mask] > 0).any():
            self.warn(f"{who}: depth is 0 (unknown) everywhere under its mask")
        return mask

    def _mask(self, sub, who: str) -> np.ndarray | None:
        if sub.mask is None:
            return None
        path = resolve(self.root, sub.mask)
        size = _image_size(path)
        if isinstance(size, str):
            self.err(f"{who}: mask: {size}")
            return None
        if size != (self.s.width, self.s.height):
            self.err(f"{who}: mask is {size[0]}x{size[1]} but the image is {self.s.width}x{self.s.height}")
            return None
        m = load_mask(path)
        if not m.any():
            self.err(f"{who}: mask is empty (the subject is not visible)")
            return None
        return m

    def _box2d(self, sub, mask: np.ndarray | None, who: str) -> None:
        x0, y0, x1, y1 = sub.box2d
        w, h = self.s.width, self.s.height
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            self.err(f"{who}: box2d ({x0:g}, {y0:g}, {x1:g}, {y1:g}) leaves the {w}x{h} image "
                     "(box2d is in pixels, edges, x1/y1 exclusive)")
            return
        if mask is None:
            return
        tight = mask_box(mask)
        if tight is None:  # _mask refuses an empty mask before this
            return
        tol = max(BOX_TOLERANCE_PX, BOX_TOLERANCE_FRAC * max(w, h))
        if any(abs(a - b) > tol for a, b in zip(sub.box2d, tight)):
            self.err(f"{who}: box2d ({x0:g}, {y0:g}, {x1:g}, {y1:g}) disagrees with its mask's extent "
                     f"{tight} by more than {tol:g} px")

    def _box3d(self, sub, mask: np.ndarray | None, who: str) -> None:
        b = sub.box3d
        if b.center[2] >= 0:
            self.err(f"{who}: box3d centre z = {b.center[2]:g} is behind the camera "
                     "(box3d is in camera coordinates: x right, y up, the camera looks down -z)")
            return
        uv, d = project(box_corners(b), self.s.camera)
        if mask is None or (d <= 0).any():
            return  # a box reaching behind the camera has no finite projection to compare
        rows, cols = np.nonzero(mask)
        (u0, v0), (u1, v1) = uv.min(axis=0) - 2, uv.max(axis=0) + 2
        inside = float(((cols + 0.5 >= u0) & (cols + 0.5 <= u1) & (rows + 0.5 >= v0) & (rows + 0.5 <= v1)).mean())
        if inside < 0.5:
            self.err(f"{who}: only {inside:.0%} of its mask falls inside its projected box3d "
                     f"(pixels {u0:.0f}..{u1:.0f} x {v0:.0f}..{v1:.0f}); wrong frame or units?")
        elif inside < 0.9:
            self.warn(f"{who}: {1 - inside:.0%} of its mask falls outside its projected box3d")

    def _overlaps(self, masks: dict[str, np.ndarray]) -> None:
        names = list(masks)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                both = int((masks[a] & masks[b]).sum())
                if both > 0.01 * min(masks[a].sum(), masks[b].sum()):
                    self.warn(f"masks of '{a}' and '{b}' overlap on {both} px (masks should be visible parts)")


SAMPLE_FOLDERS = "samples"  # where synth, import and build put one folder per sample


def _unlisted(root: Path, listed: set[Path]) -> list[Problem]:
    """Sample folders no index line names: a build resumed with a smaller --count, a sample deleted from the
    index by hand. Training never sees them, which is rarely what the folder's owner thinks."""
    folder = root / SAMPLE_FOLDERS
    if not folder.is_dir():
        return []
    stray = sorted(p.name for p in folder.iterdir()
                   if p.is_dir() and not p.name.startswith(".") and p.resolve() not in listed)
    if not stray:
        return []
    shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
    return [Problem(0, f"{len(stray)} folder{'s' if len(stray) != 1 else ''} in {SAMPLE_FOLDERS}/ that index.jsonl "
                       f"does not list: {shown} (left by an earlier run with a larger count?)", "warning")]


def validate(root: str | Path, on_progress: Optional[Callable[[int, int], None]] = None) -> Report:
    """Check every line of `root/index.jsonl`; never raises for a bad sample, only records problems."""
    root = Path(root)
    path = index_path(root)
    report = Report(file=str(path))
    if not path.exists():
        report.file = str(root)
        report.problems.append(Problem(0, f"no index.jsonl in {root} (create one with `sigmascene data synth` or "
                                          "`sigmascene data import`)"))
        return report
    entries = list(iter_index(root))
    first_line: dict[str, int] = {}
    counts: Counter[int] = Counter()
    listed: set[Path] = set()
    for k, (line, text, complete) in enumerate(entries):
        if on_progress:
            on_progress(k, len(entries))
        if not complete:
            report.problems.append(Problem(line, "unterminated last line (an interrupted write?)"))
            continue
        sample, diags = parse_line(text, line, str(path))
        report.problems += [Problem(line, d.message) for d in diags]
        if sample is None:
            continue
        report.samples += 1
        counts[len(sample.subjects)] += 1
        if sample.id in first_line:
            report.problems.append(Problem(line, f"sample id '{sample.id}' repeats line {first_line[sample.id]}"))
        else:
            first_line[sample.id] = line
        report.problems += _Checker(root, sample, line).run()
        listed |= {resolve(root, p).parent.resolve() for p in (sample.image, sample.depth) if p}
    if on_progress:
        on_progress(len(entries), len(entries))
    report.problems += _unlisted(root, listed)
    if report.samples == 0 and not report.errors:
        report.problems.append(Problem(0, "index.jsonl holds no samples"))
    return report
