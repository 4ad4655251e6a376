"""The 3D-aware compiler: Scene -> SIGMA control image I_C, identity dictionary I_S and manifest.

Training and inference both call `compile_scene`, so the maps a model learns from are the maps users get.
"""

from .compile import compile_scene, default_identity_size
from .compiled import CompiledScene
from .depth import decode_depth, encode_depth

__all__ = ["CompiledScene", "compile_scene", "decode_depth", "default_identity_size", "encode_depth"]
