"""Held-out toy-world scenes and everything the metrics know about them.

The eval draws scenes from the same synthetic generator the demo model was trained on, but from seeds no
training run used: world seed `HELDOUT_BASE + N` holds the scenes with N subjects. The generator drops subjects
that end up almost hidden, so a world asked for N subjects also yields scenes with fewer; only scenes with
exactly N are kept, and more indices are synthesized until `count` of them exist.

Each kept scene becomes a `ToyScene`: target image, visible masks, identity images, and the *full* (amodal)
silhouettes. The dataset stores only visible masks, so full silhouettes are re-rendered here, each subject alone,
from its identity attributes (the generator rebuilds meshes bit for bit from them) posed by its exact 3D box.
A test checks that the nearest of these silhouettes reproduces the stored visible masks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from ...errors import AssetError, ConfigError, SigmaError
from ...core.vocab import parse_subject_counts as parse_subjects  # noqa: F401  (the eval commands call it so)

# Training runs use small world seeds (the demo's TRAIN_SEEDS); eval worlds live far above them.
HELDOUT_BASE = 9_000_000
WORLDS_DIR = "world"


def world_seed(n: int, base: int = HELDOUT_BASE) -> int:
    return base + n


def check_disjoint(counts: Iterable[int], base: int, train_seeds: Optional[Iterable[int]],
                   train_world_seed: Optional[int] = None) -> None:
    """Refuse eval worlds a training run drew from: those scenes would not be held out.

    A sample is `default_rng([world seed, index])`, so any world seed other than the training world's gives
    scenes never trained on. With `train_world_seed` known (the demo's TRAIN_WORLD_SEED; its TRAIN_SEEDS are
    then sample indices of that world) that one seed is refused; without it `train_seeds` are world seeds.
    """
    if train_world_seed is not None:
        used = {int(train_world_seed)}
    elif train_seeds is not None:
        used = {int(s) for s in train_seeds}
    else:
        return
    clash = [world_seed(n, base) for n in counts if world_seed(n, base) in used]
    if clash:
        raise ConfigError(f"eval world seeds {clash} were used to train the model, so their scenes are not held out",
                         hint="pass another --seed-base")


@dataclass
class ToyScene:
    """One held-out scene with its ground truth; subjects in the dataset's order."""

    case_id: str
    n: int
    sample: object  # data.schema.Sample
    root: Path  # its dataset folder
    image: np.ndarray  # HxWx3 uint8 target
    visible: list[np.ndarray]  # HxW bool per subject
    full: list[np.ndarray]  # HxW bool per subject: the silhouette with nothing in front
    distance: list[float]  # camera z-distance of each subject's box centre (smaller = nearer)
    identities: list[np.ndarray]  # identity images, HxWx3 uint8
    names: list[str] = field(default_factory=list)


def load_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def full_silhouettes(sample) -> list[np.ndarray]:
    """Each subject rendered alone, posed by its exact 3D box: where it would cover with nothing in front."""
    import pyrender
    from pyrender.constants import RenderFlags

    from ...data.geometry import box_rotation
    from ...data.synth.identities import Identity, build_mesh
    from ...data.synth.render import object_mesh, renderer

    w, h = sample.width, sample.height
    scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 1.0])
    scene.add(pyrender.PerspectiveCamera(yfov=math.radians(sample.camera.vertical_fov), aspectRatio=w / h,
                                         znear=0.05, zfar=30.0), pose=np.eye(4))
    r = renderer(w, h)
    out = []
    for s in sample.subjects:
        a = s.attributes
        ident = Identity(id=s.identity_id or s.name, shape=a["shape"], colour=a["colour"], colour2=a["colour2"],
                         pattern=a["pattern"], axis=a["axis"], size=float(a["size"]), finish=a["finish"],
                         seed=int(a["seed"]))
        obj = build_mesh(ident)
        rot = box_rotation(s.box3d)
        pose = np.eye(4)
        pose[:3, :3] = rot
        pose[:3, 3] = np.asarray(s.box3d.center) - rot @ ((obj.bounds[0] + obj.bounds[1]) / 2)
        node = scene.add(object_mesh(obj), pose=pose)
        out.append(r.render(scene, flags=RenderFlags.DEPTH_ONLY) > 0)
        scene.remove_node(node)
    return out


def load_toy_scene(sample, root: Path, n: int, case_id: str) -> ToyScene:
    from ...data.io import load_mask, resolve

    subjects = sample.subjects
    for s in subjects:
        if s.box3d is None or not s.attributes.get("shape"):
            raise AssetError(f"sample '{sample.id}' in {root} is not a synthetic-world sample (no attributes/box3d)")
    return ToyScene(
        case_id=case_id, n=n, sample=sample, root=root, image=load_rgb(resolve(root, sample.image)),
        visible=[load_mask(resolve(root, s.mask)) for s in subjects], full=full_silhouettes(sample),
        distance=[float(-s.box3d.center[2]) for s in subjects],
        identities=[load_rgb(resolve(root, s.identity)) for s in subjects], names=[s.name for s in subjects])


def case_id(n: int, sample_id: str) -> str:
    return f"n{n:02d}-{sample_id}"


def make_worlds(out: Path, counts: list[int], count: int, size: int, base: int = HELDOUT_BASE,
                workers: int = 1, max_factor: int = 20,
                start: Optional[Callable[[str, int], Callable[[str], None]]] = None) -> dict[int, list]:
    """Per subject count N, `count` synthetic samples with exactly N subjects; returns {N: [Sample, ...]}.

    Resumable like `data synth` (same folders, same seeds): a second call only loads. Indices are consumed in
    order, so the first `count` exact-N samples are the same whatever `count` a previous run used.
    `start(label, total) -> advance(text)` draws a bar per synthesis round (one sample per step).
    """
    from ...data import load_dataset
    from ...data.synth import SynthConfig, synthesize

    chosen: dict[int, list] = {}
    for n in counts:
        cfg = SynthConfig(seed=world_seed(n, base), size=size, min_subjects=n, max_subjects=n)
        root = out / WORLDS_DIR / f"n{n:02d}"
        total = count
        while True:
            done = len(load_dataset(root)) if (root / "index.jsonl").is_file() else 0
            if done < total:
                hook = None
                if start is not None:
                    step = start(f"scenes N={n}", total - done)
                    seen = [done]

                    def hook(d: int, _t: int, step=step, seen=seen) -> None:
                        for _ in range(d - seen[0]):
                            step("")
                        seen[0] = max(seen[0], d)
                synthesize(root, total, cfg, workers=workers, on_progress=hook)
            samples = sorted(load_dataset(root), key=lambda s: s.id)[:total]
            exact = [s for s in samples if len(s.subjects) == n]
            if len(exact) >= count:
                chosen[n] = exact[:count]
                break
            if total >= max_factor * count:
                raise SigmaError(f"only {len(exact)} of {total} synthetic scenes kept all {n} subjects",
                                 hint="ask for fewer subjects or a smaller --count")
            rate = max(len(exact) / total, 0.05)
            total = min(max_factor * count, total + math.ceil((count - len(exact)) / rate * 1.1))
    return chosen
