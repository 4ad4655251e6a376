"""The `collage` method: stock FLUX.1 Kontext reads one canvas-sized layout image (the references cut out and
painted far -> near at their places) and an edit instruction. Training-free: it needs no LoRA.

The spec is registered here so the resolver can choose `collage` by default (a base and no LoRA) and check its
rules; the two entries are filled in by the collage work (issue 25, part 3). Until then they refuse clearly.
"""

from __future__ import annotations

from ..errors import ConfigError
from .method import MethodCall, MethodOutput, MethodSpec

COLLAGE_SPEC = MethodSpec("collage", "training-free: stock Kontext reads one layout image of the cut-out "
                          "references; needs no LoRA (style LoRAs may be stacked)")


def _not_built(call: MethodCall) -> MethodOutput:
    raise ConfigError("the collage method is not built into this version of sigmascene yet",
                      hint="pass a SIGMA LoRA (--lora FILE, then --method sigma), or render with the demo model "
                           "(no --base)")


collage_plain = _not_built
collage_insertion = _not_built
