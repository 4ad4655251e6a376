"""Stand-in for `sigmascene.data.sample_to_scene` while the data package does not provide it.

The trainer prefers the data package's function (`samples.scene_builder` looks it up first); this one exists so
training works before it lands, and it follows the conventions fixed in `data/schema.py`: the camera at the
origin looking down -z with the sample's vertical field of view (so `box3d` in camera coordinates is placed
exactly; an off-centre principal point is not representable in a Scene and is ignored), `box2d` pixels divided by
the image size, paths relative to the dataset root.

The three structure modes only choose placements; every map is still drawn by the compiler:

* `mask_depth`: the precise (visible-part) masks, plus the depth map so I_T carries per-pixel depth;
* `box3d_depth`: the 3D boxes, whose rendered depth becomes I_T;
* `box2d`: 2D boxes and no depth at all (I_T stays 0, as for a user's plain 2D boxes). Their front-to-back order
  is still needed for the routing maps, so it is given as `behind` relations, which order without adding depth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SigmaError
from ..scene import Box2D, Box3D, Camera, Mask, Relation, Scene

MODES = ("mask_depth", "box3d_depth", "box2d")


def _subject_depth(sample: Any, subject: Any, root: Path, depth: np.ndarray | None) -> float | None:
    """Distance of a subject from the camera: its 3D box centre, else the mean depth-map value under its mask."""
    if subject.box3d is not None:
        return float(-subject.box3d.center[2])
    if depth is not None and subject.mask:
        from ..data.io import load_mask

        m = load_mask(root / subject.mask)
        if m.shape == depth.shape:
            vals = depth[m & (depth > 0)]
            if vals.size:
                return float(vals.mean())
    return None


def _box2d(sample: Any, subject: Any, root: Path) -> Box2D:
    w, h = sample.width, sample.height
    box = subject.box2d
    if box is None:
        from ..data.geometry import mask_box
        from ..data.io import load_mask

        box = mask_box(load_mask(root / subject.mask))
        if box is None:
            raise SigmaError(f"sample '{sample.id}': subject '{subject.name}' has an empty mask and no box2d")
    x0, y0, x1, y1 = (min(max(v / s, 0.0), 1.0) for v, s in zip(box, (w, h, w, h)))
    return Box2D(x0=x0, y0=y0, x1=x1, y1=y1)


def sample_to_scene(sample: Any, root: str | Path, structure: str) -> Scene:
    """One dataset sample as a Scene whose placements are those of `structure` (see the module docstring)."""
    if structure not in MODES:
        raise SigmaError(f"unknown structure mode {structure!r}", hint=f"use one of: {', '.join(MODES)}")
    root = Path(root)
    from .samples import canvas_size

    w, h = canvas_size(sample.width, sample.height, 0)
    scene = Scene(canvas=(w, h), prompt=sample.prompts.background, compose=sample.prompts.full or None,
                  camera=Camera(position=(0.0, 0.0, 0.0), fov=sample.camera.vertical_fov))
    scene.base_dir = root
    depth = None
    if structure == "box2d" and sample.depth:
        from ..data.io import load_depth

        depth = load_depth(root / sample.depth)
    for s in sample.subjects:
        if structure == "mask_depth":
            if not s.mask:
                raise SigmaError(f"sample '{sample.id}': subject '{s.name}' has no mask for mode mask_depth")
            placement, depth_map = Mask(path=s.mask), sample.depth
        elif structure == "box3d_depth":
            if s.box3d is None:
                raise SigmaError(f"sample '{sample.id}': subject '{s.name}' has no box3d for mode box3d_depth")
            b = s.box3d
            placement, depth_map = Box3D(center=b.center, size=b.size, yaw=b.yaw, pitch=b.pitch, roll=b.roll), None
        else:
            placement, depth_map = _box2d(sample, s, root), None
        scene.add_subject(s.name, s.identity, placement, depth_map=depth_map, caption=s.caption or None)
    if structure == "box2d":
        known = [(d, k) for k, s in enumerate(sample.subjects)
                 if (d := _subject_depth(sample, s, root, depth)) is not None]
        order = [k for _, k in sorted(known, reverse=True)]  # far -> near
        for far, near in zip(order, order[1:]):
            scene.subjects[far].relations.append(Relation(kind="behind", target=scene.subjects[near].name))
    return scene
