"""Watching a run: progress callbacks, TensorBoard scalars, metrics.jsonl, and validation grids to look at.

A loss curve says little about whether subjects land in their boxes with the right identity; a grid of the same
fixed scenes rendered every M steps does. Each row is one validation scene — its routing map (one colour per
subject), its identity dictionary, the ground truth when the scene came from the dataset, and the render at this
step — so successive grids in `validation/` show learning happen. `metrics.jsonl` has one line per step (loss,
stage, learning rate, ...) for scripts that should not parse TensorBoard files. Only rank 0 watches.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

import numpy as np
from PIL import Image, ImageDraw

from ..core.vocab import routing_intensity, subject_of

TILE = 160
LABEL_H = 16
BG = (28, 28, 30)
FG = (235, 235, 235)


def routing_picture(control: np.ndarray) -> Image.Image:
    """IR_asc in one colour per subject (the routing intensity 10 k -> palette colour k), background dark."""
    from ..compiler.preview import palette

    ir = control[..., 0]
    n = subject_of(ir.max())
    out = np.zeros((*ir.shape, 3), dtype=np.uint8)
    out[:] = (40, 40, 44)
    for k, colour in enumerate(palette(n), start=1):
        out[ir == routing_intensity(k)] = colour
    return Image.fromarray(out)


def _fit(im: Image.Image, w: int = TILE, h: int = TILE) -> Image.Image:
    """Scale (up or down) to fit the tile; nearest-neighbour when enlarging so small renders stay crisp."""
    im = im.convert("RGB")
    s = min(w / im.width, h / im.height)
    im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))),
                   Image.Resampling.NEAREST if s > 1 else Image.Resampling.LANCZOS)
    tile = Image.new("RGB", (w, h), BG)
    tile.paste(im, ((w - im.width) // 2, (h - im.height) // 2))
    return tile


def grid(rows: Sequence[Sequence[Image.Image | None]], columns: Sequence[str], title: str = "",
         row_labels: Sequence[str] = ()) -> Image.Image:
    """A labelled grid of images (None = empty tile)."""
    from ..compiler.preview import font

    head = LABEL_H * 2 if title else LABEL_H
    sheet = Image.new("RGB", (TILE * len(columns), head + len(rows) * (TILE + LABEL_H)), BG)
    draw = ImageDraw.Draw(sheet)
    f = font(11)
    if title:
        draw.text((4, 2), title, font=font(12, bold=True), fill=FG)
    for c, name in enumerate(columns):
        draw.text((c * TILE + 4, head - LABEL_H + 2), name, font=f, fill=FG)
    for r, row in enumerate(rows):
        y = head + r * (TILE + LABEL_H)
        if r < len(row_labels):
            draw.text((4, y + 1), row_labels[r][:40], font=f, fill=(180, 180, 180))
        for c, im in enumerate(row):
            if im is not None:
                sheet.paste(_fit(im), (c * TILE, y + LABEL_H))
    return sheet


#: `progress(what, done, total, fields)`: what is "train" or a one-off phase ("caching prompt embeddings"); fields
#: are short display strings (stage, loss). The command line turns it into a bar or plain log lines.
ProgressFn = Callable[[str, int, int, dict], None]
NoteFn = Callable[[str], None]


def print_note(text: str) -> None:
    """Where notes go when the caller gave no `note`: stderr, like any library warning."""
    print(text, file=sys.stderr, flush=True)


class Watch:
    """Progress callbacks + TensorBoard + metrics.jsonl for rank 0; every method is a no-op on other ranks."""

    def __init__(self, run_dir: Path, *, total: int, start: int, enabled: bool, progress: ProgressFn | None = None,
                 note: NoteFn | None = None):
        self.enabled = enabled
        self.total, self.start_step = total, start
        self.writer: Any = None  # a TensorBoard SummaryWriter
        self.metrics: TextIO | None = None
        self._progress = progress
        self._note = note or print_note
        self._t0 = time.perf_counter()
        if not enabled:
            return
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        path = run_dir / "metrics.jsonl"
        torn = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
        self.metrics = open(path, "a", encoding="utf-8")
        if torn:  # a killed run's half line: end it so the next line stays parseable
            self.metrics.write("\n")
        if self._progress is not None:
            self._progress("train", start, total, {"stage": "", "loss": "-"})

    def step(self, step: int, *, loss: float, stage: str, scalars: dict[str, float], log: bool) -> None:
        if not self.enabled or self.metrics is None:  # enabled: the metrics file is open
            return
        elapsed = time.perf_counter() - self._t0
        rate = (step - self.start_step) / elapsed if elapsed > 0 else 0.0
        line = {"step": step, "loss": loss, **{k.split("/")[-1]: v for k, v in scalars.items()}}
        self.metrics.write(json.dumps(line) + "\n")  # one write per line: a kill leaves at most a torn last line
        self.metrics.flush()
        if self._progress is not None:
            # the field is named `stage`, so its value is `2/3 (>=3 subjects)`, not `stage 2/3 ...` again
            self._progress("train", step, self.total, {"stage": stage.removeprefix("stage "), "loss": f"{loss:.4f}"})
        if log:
            self.scalar("train/loss", loss, step)
            self.scalar("train/steps_per_second", rate, step)
            for k, v in scalars.items():
                self.scalar(k, v, step)

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, float(value), step)

    def image(self, tag: str, picture: Image.Image, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, np.asarray(picture.convert("RGB")), step, dataformats="HWC")

    def note(self, text: str) -> None:
        if self.enabled:
            self._note(text)

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
            self.writer = None


def read_metrics(run_dir: Path) -> list[dict]:
    """Every complete line of metrics.jsonl (a run killed mid-write may leave a torn last line)."""
    path = Path(run_dir) / "metrics.jsonl"
    out = []
    if path.is_file():
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                continue
    return out


def save_grid(picture: Image.Image, run_dir: Path, step: int) -> Path:
    """validation/step-00001234.png, written atomically (a viewer never shows half a PNG)."""
    import io

    from ..data.io import write_bytes_atomic

    path = run_dir / "validation" / f"step-{step:08d}.png"
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    write_bytes_atomic(path, buf.getvalue())
    return path
