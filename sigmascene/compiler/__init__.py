"""The 3D-aware compiler: Scene -> SIGMA control image I_C, identity dictionary I_S, manifest, and the layout image.

Training and inference both call `compile_scene`, so the maps a model learns from are the maps users get.
"""

from .compile import compile_scene, default_identity_size
from .compiled import CompiledScene
from .cutouts import Cutout, Segmenter, cut_out, scene_cutouts
from .depth import decode_depth, encode_depth
from .layout_image import LayoutImage, layout_image

__all__ = ["CompiledScene", "Cutout", "LayoutImage", "Segmenter", "compile_scene", "cut_out", "decode_depth",
           "default_identity_size", "encode_depth", "layout_image", "scene_cutouts"]
