"""Flat placements as canvas-sized boolean coverage, never anti-aliased: each kind draws its own shape
(`PlacementKind.coverage`, scene/kinds/), on the pixel-centre rule written down in scene/kinds/base.py.

A placement whose coverage is a file (a mask) is not a shape: the compiler loads it (`compiler.assets.load_mask`)
as it loads meshes, so the renderers never reach up into asset handling.
"""

from __future__ import annotations

import numpy as np

from ..scene import KINDS, PlacementNode, Scene


def flat_coverage(placement: PlacementNode, scene: Scene) -> np.ndarray:
    """Canvas-sized coverage of a flat shape placement (a TypeError for any other)."""
    return KINDS[placement.kind].coverage(placement, scene.canvas.width, scene.canvas.height)
