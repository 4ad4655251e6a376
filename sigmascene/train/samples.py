"""A dataset sample -> one training example (target, I_S, I_C, prompt), through the user's own compiler.

The paper's recipe, step by step:

1. a structure mode per draw — (i) precise mask + depth map, (ii) 3D box + its rendered depth, (iii) 2D box —
   with configurable probabilities, among the modes the sample has annotations for;
2. augmentations that make the model forgiving of rough user input: each precise mask is dilated with
   probability `dilation_prob` by a radius uniform in 1..`max_dilation` pixels, and every box's aspect ratio is
   scaled by a factor uniform in [1 - j, 1 + j] (j = 1 %) at constant area and centre;
3. the prompt alternates between `Place these subjects in <background>` and `... to compose: <full>`;
4. the Scene goes through `compile_scene` — the very function `sigmascene compile` runs — so training maps and
   inference maps cannot drift apart. Nothing here draws a map.

Dilated masks are files (the compiler reads placements from disk), written once per (mask, radius) into a work
folder under content-addressed names, so repeated draws and concurrent ranks reuse them.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import SigmaError
from ..scene import Canvas, Scene
from ..scene.kinds.box2d import Box2D
from ..scene.kinds.box3d import Box3D
from ..scene.kinds.mask import Mask
from .config import STRUCTURES, DataConfig

PROMPT_MODES = ("background", "full")


@dataclass
class Example:
    """One training example, all arrays uint8 RGB; `compiled` is the compiler's full output for inspection."""

    index: int
    sample_id: str
    structure: str
    prompt_mode: str
    prompt: str
    target: np.ndarray  # (H, W, 3) at canvas size
    control: np.ndarray  # I_C (H, W, 3)
    identity: np.ndarray  # I_S (N H', W', 3)
    n_subjects: int
    compiled: Any = None
    dilation: dict[str, int] = field(default_factory=dict)  # subject -> radius (0 = not dilated)
    jitter: dict[str, float] = field(default_factory=dict)  # subject -> aspect factor (boxes only)

    @property
    def canvas_hw(self) -> tuple[int, int]:
        return self.target.shape[0], self.target.shape[1]


def available_structures(sample: Any) -> list[str]:
    """Modes this sample can be shown in: masks (+ depth) need every mask, 3D boxes need every box3d."""
    subs = sample.subjects
    out = []
    if all(s.mask for s in subs):
        out.append("mask_depth")
    if all(s.box3d is not None for s in subs):
        out.append("box3d_depth")
    if all(s.box2d is not None or s.mask for s in subs):
        out.append("box2d")
    return out


def choose_structure(rng: np.random.Generator, probs: dict[str, float], available: Sequence[str]) -> str:
    """Draw a mode with the configured probabilities, renormalised over the modes the sample supports."""
    modes = [m for m in STRUCTURES if m in available and probs.get(m, 0) > 0]
    if not modes:
        modes = [m for m in STRUCTURES if m in available]
    if not modes:
        raise SigmaError("sample has no annotation usable as structure (no masks, 2D boxes or 3D boxes)")
    p = np.array([probs.get(m, 0.0) for m in modes], dtype=np.float64)
    p = p / p.sum() if p.sum() > 0 else np.full(len(modes), 1 / len(modes))
    return modes[int(rng.choice(len(modes), p=p))]


def choose_prompt_mode(rng: np.random.Generator, full_prob: float, has_full: bool) -> str:
    """`full` with probability `full_prob` when the sample has a full prompt, else `background`.

    The draw happens either way, so a sample's other random choices do not depend on whether it has one.
    """
    full = rng.random() < full_prob
    return "full" if full and has_full else "background"


def canvas_size(width: int, height: int, resolution: int) -> tuple[int, int]:
    """(W, H) multiples of 16: the sample's own size, or scaled so the longer side is `resolution`."""
    s = 1.0 if resolution <= 0 else resolution / max(width, height)
    w, h = (max(16, int(round(v * s / 16)) * 16) for v in (width, height))
    return w, h


def jitter_box2d(box: Box2D, factor: float) -> Box2D:
    """Aspect ratio (w/h) times `factor`, same centre and area, clipped to the canvas."""
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    w, h = (box.x1 - box.x0) * math.sqrt(factor), (box.y1 - box.y0) / math.sqrt(factor)
    x0, x1 = max(0.0, cx - w / 2), min(1.0, cx + w / 2)
    y0, y1 = max(0.0, cy - h / 2), min(1.0, cy + h / 2)
    if not (x0 < x1 and y0 < y1):
        return box
    return Box2D(x0=x0, y0=y0, x1=x1, y1=y1)


def jitter_box3d(box: Box3D, factor: float) -> Box3D:
    """Width/height ratio of the box times `factor` at constant front-face area; depth (z) unchanged."""
    sx, sy, sz = box.size
    return box.model_copy(update={"size": (sx * math.sqrt(factor), sy / math.sqrt(factor), sz)})


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a disk of `radius` pixels."""
    from scipy.ndimage import binary_dilation

    if radius <= 0:
        return mask
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return binary_dilation(mask, structure=(x * x + y * y) <= radius * radius)


def scene_builder() -> Callable[[Any, Path, str], Scene]:
    """The data package's `sample_to_scene`: training sees exactly the Scene that `data show` and evals build."""
    from ..data import sample_to_scene

    return sample_to_scene


class SampleBuilder:
    """Turns dataset samples into Examples; every random choice comes from the `rng` passed in."""

    def __init__(self, root: str | Path, samples: Sequence[Any], data: DataConfig, work_dir: str | Path):
        self.root = Path(root)
        self.samples = list(samples)
        self.cfg = data
        self.work_dir = Path(work_dir)
        self.probs = data.structure.normalised()
        unusable = [smp for smp in self.samples if not available_structures(smp)]
        if unusable:
            from ..errors import Diagnostic, SourceLoc

            index = str(self.root / "index.jsonl")
            raise SigmaError([Diagnostic(f"sample '{smp.id}' has no structure annotation the trainer can use "
                                         f"(every subject needs a mask, a box2d or a box3d)",
                                         SourceLoc(index, smp.line, 1) if smp.line else None)
                              for smp in unusable[:10]])

    # -- the random choices -------------------------------------------------------------------------------------
    def scene(self, index: int, structure: str) -> Scene:
        """The sample as a Scene in one structure mode, at training canvas size, before augmentation."""
        sample = self.samples[index]
        scene = scene_builder()(sample, self.root, structure)
        w, h = canvas_size(sample.width, sample.height, self.cfg.resolution)
        if (scene.canvas.width, scene.canvas.height) != (w, h):
            scene.canvas = Canvas(width=w, height=h)
        return scene

    def augment(self, scene: Scene, rng: np.random.Generator) -> tuple[dict[str, int], dict[str, float]]:
        """Dilate masks and jitter boxes in place; returns what was done, per subject."""
        dilation, jitter = {}, {}
        j = self.cfg.box_jitter
        for s in scene.subjects:
            p = s.placement
            if isinstance(p, Mask):
                r = 0
                if self.cfg.max_dilation > 0 and rng.random() < self.cfg.dilation_prob:
                    r = int(rng.integers(1, self.cfg.max_dilation + 1))
                    s.placement = Mask(path=str(self._dilated_mask(scene.resolve(p.path), r)))
                dilation[s.name] = r
            elif isinstance(p, (Box2D, Box3D)) and j > 0:
                f = float(rng.uniform(1.0 - j, 1.0 + j))
                s.placement = jitter_box2d(p, f) if isinstance(p, Box2D) else jitter_box3d(p, f)
                jitter[s.name] = f
        return dilation, jitter

    def _dilated_mask(self, path: Path, radius: int) -> Path:
        from ..data.io import load_mask, save_png

        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:24]
        out = self.work_dir / "masks" / f"{digest}-r{radius}.png"
        if not out.is_file():
            save_png(out, dilate(load_mask(path), radius).astype(np.uint8) * 255)
        return out

    def prompt(self, scene: Scene, mode: str) -> str:
        from ..scene.prompts import build_prompt

        if mode == "full" and not (scene.compose and scene.compose.strip()):
            mode = "background"
        return build_prompt(scene, mode)

    def prompts(self, index: int) -> list[str]:
        """Every prompt this sample can be trained with (to cache their embeddings up front)."""
        scene = self.scene(index, available_structures(self.samples[index])[0])
        return list(dict.fromkeys(self.prompt(scene, m) for m in PROMPT_MODES))

    # -- the example ----------------------------------------------------------------------------------------
    def build(self, index: int, rng: np.random.Generator | None = None, *, structure: str | None = None,
              prompt_mode: str | None = None, augment: bool = True) -> Example:
        """One example; with `rng=None` every choice must be given and nothing is augmented (validation)."""
        from ..compiler import compile_scene
        from ..data.io import load_rgb

        sample = self.samples[index]
        if structure is None:
            if rng is None:
                raise ValueError("pass an rng or a structure")
            structure = choose_structure(rng, self.probs, available_structures(sample))
        scene = self.scene(index, structure)
        dilation, jitter = self.augment(scene, rng) if augment and rng is not None else ({}, {})
        has_full = bool(scene.compose and scene.compose.strip())
        if prompt_mode is None:
            if rng is None:
                raise ValueError("pass an rng or a prompt mode")
            prompt_mode = choose_prompt_mode(rng, self.cfg.full_prompt_prob, has_full)
        elif prompt_mode == "full" and not has_full:
            prompt_mode = "background"
        prompt = self.prompt(scene, prompt_mode)
        size = self.cfg.identity_size
        compiled = compile_scene(scene, identity_size=(size, size) if size else None)
        w, h = scene.canvas.width, scene.canvas.height
        target = load_rgb(self.root / sample.image if not Path(sample.image).is_absolute() else sample.image)
        if target.shape[:2] != (h, w):
            from PIL import Image

            target = np.asarray(Image.fromarray(target).resize((w, h), Image.Resampling.LANCZOS))
        return Example(index=index, sample_id=sample.id, structure=structure, prompt_mode=prompt_mode, prompt=prompt,
                       target=target, control=compiled.control, identity=compiled.identity,
                       n_subjects=len(scene.subjects), compiled=compiled, dilation=dilation, jitter=jitter)
