"""The build's stages, in the order they run; each is one small class (see base.Stage)."""

from .depth import DepthStage
from .diffusion import ImageStage, ReposeStage
from .identity import IdentityStage
from .prompts import PromptsStage
from .segment import SegmentStage

STAGES = {s.name: s for s in (PromptsStage, ImageStage, SegmentStage, DepthStage, ReposeStage, IdentityStage)}

__all__ = ["STAGES"]
