"""A dataset sample as the Scene the compiler compiles, in one of the paper's three structure modes.

Training and inference share the compiler, so the trainer never draws maps itself: it turns a sample into the
same kind of Scene a user writes, and `sigmascene.compile` does the rest. The modes only choose placements:

* `mask_depth`: each subject's visible mask, with the sample's depth map so I_T carries per-pixel depth;
* `box3d_depth`: the exact 3D boxes in camera coordinates; the compiler renders their depth into I_T;
* `box2d`: pixel boxes as canvas fractions and no depth (I_T stays 0, as for a user's plain 2D boxes). The
  routing maps still need a far-to-near order, so it is given as `behind` relations, which order without
  adding depth to I_T.

The camera sits at the origin looking down -z with the sample's vertical field of view, so box3d records (in
camera coordinates, OpenGL axes) land exactly where they were. A Scene camera has a centred principal point and
square pixels; samples whose intrinsics differ are placed as if they had them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import AssetError, ConfigError
from ..scene import Camera, Relation, Scene
from ..scene.kinds.box2d import Box2D
from ..scene.kinds.box3d import Box3D
from ..scene.kinds.mask import Mask
from .geometry import mask_box
from .io import load_depth, load_mask, resolve
from .schema import Sample, SubjectRecord

Structure = Literal["mask_depth", "box3d_depth", "box2d"]
STRUCTURES: tuple[str, ...] = ("mask_depth", "box3d_depth", "box2d")


def canvas_for(width: int, height: int) -> tuple[int, int]:
    """The sample's size rounded to the multiples of 16 a canvas needs (placements are fractions, so they stay)."""
    w, h = (min(4096, max(16, int(round(v / 16)) * 16)) for v in (width, height))
    return w, h


def box2d_fraction(sample: Sample, subject: SubjectRecord, root: Path) -> Box2D:
    """The subject's pixel box as canvas fractions; from its mask when the record has no box."""
    box = subject.box2d
    if box is None and subject.mask:
        box = mask_box(load_mask(resolve(root, subject.mask)))
    if box is None:
        raise AssetError(f"sample '{sample.id}': subject '{subject.name}' has neither a box2d nor a non-empty mask",
                         hint="run `sigmascene data fit-boxes` or fix the mask")
    w, h = sample.width, sample.height
    x0, y0, x1, y1 = (min(max(v / s, 0.0), 1.0) for v, s in zip(box, (w, h, w, h)))
    return Box2D(x0=x0, y0=y0, x1=x1, y1=y1)


def subject_distance(subject: SubjectRecord, root: Path, depth: np.ndarray | None) -> float | None:
    """How far a subject is: its 3D box centre's z-depth, else the median depth under its mask."""
    if subject.box3d is not None:
        return float(-subject.box3d.center[2])
    if depth is not None and subject.mask:
        m = load_mask(resolve(root, subject.mask))
        if m.shape == depth.shape:
            vals = depth[m & (depth > 0)]
            if vals.size:
                return float(np.median(vals))
    return None


def _order_by_relations(scene: Scene, sample: Sample, root: Path) -> None:
    """Chain `behind` relations far to near, so 2D placements keep the sample's occlusion order."""
    depth = load_depth(resolve(root, sample.depth)) if sample.depth else None
    known = [(d, k) for k, s in enumerate(sample.subjects) if (d := subject_distance(s, root, depth)) is not None]
    order = [k for _, k in sorted(known, key=lambda t: (-t[0], t[1]))]
    for far, near in zip(order, order[1:]):
        scene.subjects[far].relations.append(Relation(kind="behind", target=scene.subjects[near].name))


def sample_to_scene(sample: Sample, root: str | Path, structure: Structure | str) -> Scene:
    """The Scene for one sample in one structure mode; refs are the identity images, paths resolve under `root`."""
    if structure not in STRUCTURES:
        raise ConfigError(f"unknown structure mode {structure!r}", hint=f"use one of: {', '.join(STRUCTURES)}")
    root = Path(root)
    scene = Scene(canvas=canvas_for(sample.width, sample.height), prompt=sample.prompts.background,
                  compose=sample.prompts.full or None,
                  camera=Camera(position=(0.0, 0.0, 0.0), fov=sample.camera.vertical_fov))
    scene.base_dir = root
    use_depth = structure == "mask_depth" and sample.depth is not None
    for s in sample.subjects:
        placement: Mask | Box3D | Box2D
        if structure == "mask_depth":
            if not s.mask:
                raise AssetError(f"sample '{sample.id}': subject '{s.name}' has no mask for structure mask_depth")
            placement = Mask(path=s.mask)
        elif structure == "box3d_depth":
            if s.box3d is None:
                raise AssetError(f"sample '{sample.id}': subject '{s.name}' has no box3d for structure box3d_depth",
                                 hint="run `sigmascene data fit-boxes` to fit boxes from masks and depth")
            b = s.box3d
            placement = Box3D(center=b.center, size=b.size, yaw=b.yaw, pitch=b.pitch, roll=b.roll)
        else:
            placement = box2d_fraction(sample, s, root)
        scene.add_subject(s.name, s.identity, placement, depth_map=sample.depth if use_depth else None,
                          caption=s.caption or None)
    if structure == "box2d" or (structure == "mask_depth" and not use_depth):
        _order_by_relations(scene, sample, root)
    return scene
