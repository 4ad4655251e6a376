"""`eval toyworld --insert`: each held-out room rendered *without* its subjects is the photo the subjects are
inserted into (`background`), so the truth is known both inside (the toy scene) and outside (the photo itself).

    OUT/insert/photos/<case>.png     the empty room, same seed, camera, room and lights as the sample
    OUT/renders/<model>-<structure>-insert-<mode>/

Beyond the usual metrics, every render is checked outside its blend region plus feather: the share of those
pixels equal to the photo byte for byte (must be 100 %).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..evalset import Case, EvalSet

PHOTOS_DIR = "insert/photos"


def empty_room(sample, world_seed: int) -> np.ndarray:
    """The sample's room with no subjects: `generate` draws room and camera first from the same generator, so
    re-drawing them reproduces the sample's room, camera and lights exactly."""
    from ...data.synth.rooms import sample_camera, sample_room
    from ...data.synth.sample import _Target

    rng = np.random.default_rng([int(world_seed), int(sample.id), 0x5167])
    room, cam = sample_room(rng), sample_camera(rng)
    image, _ = _Target(room, cam, [], sample.width, sample.height).colour()
    return np.asarray(image, dtype=np.uint8)[..., :3]


def photo_path(root: Path, case_id: str) -> Path:
    return Path(root) / PHOTOS_DIR / f"{case_id}.png"


class InsertSet(EvalSet):
    """The toy-world eval set whose scenes insert their subjects into the case's empty-room photo."""

    def load_scene(self, case: Case):
        scene = super().load_scene(case)
        scene.set_background(photo_path(self.root, case.id).resolve())
        return scene


def write_photos(evalset: EvalSet, seed_for, start=None) -> InsertSet:
    """Render (or reuse) every case's empty-room photo; returns the set that inserts into them."""
    from PIL import Image

    advance = start("empty rooms", len(evalset.cases)) if start else None
    for case in evalset.cases:
        path = photo_path(evalset.root, case.id)
        if not path.is_file():
            sample, _ = evalset.load_sample(case)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.png")
            Image.fromarray(empty_room(sample, seed_for(sample)), "RGB").save(tmp)
            tmp.replace(path)
        if advance:
            advance(case.id)
    out = InsertSet(name=evalset.name, cases=evalset.cases)
    out._root = evalset.root
    return out


def unchanged_outside(image: np.ndarray, evalset: EvalSet, case: Case, sidecar: dict) -> tuple[int, int]:
    """(pixels equal to the photo, pixels) outside the blend region plus feather the render used."""
    from ...compiler.background import default_blend
    from ...compiler.compile import compile_scene
    from ...model.insert import feather_alpha

    bg = sidecar.get("background") or {}
    scene = evalset.load_scene(case)
    margin = bg.get("blend_margin_px")
    compiled = compile_scene(scene, blend_margin=None if margin is None else int(margin))
    feather = bg.get("feather_px")
    if feather is None:
        feather = default_blend(scene.canvas.width, scene.canvas.height)[1]
    if compiled.blend_region is None:  # an InsertSet's scenes all have their background photo
        raise ValueError(f"case '{case.id}' has no background photo to compare against")
    keep = feather_alpha(compiled.blend_region, int(feather)) == 0
    same = np.all(np.asarray(image)[..., :3] == np.asarray(compiled.background)[..., :3], axis=-1)
    return int((same & keep).sum()), int(keep.sum())
