"""The synthetic world: procedural identities in procedural rooms, rendered with pyrender.

Hub models cannot be downloaded here, so instead of SIGMA-SET27K's T2I → segment → repose → depth pipeline we
render a world we control completely; every annotation (masks, depth, 2D and 3D boxes, identity images in a new
pose and light) is then exact ground truth rather than a model's estimate.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SynthConfig", "SynthReport", "synthesize"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing a submodule (identities, textures) does not pull in the runner and its pools.
    if name in __all__:
        from . import runner

        return getattr(runner, name)
    raise AttributeError(name)
