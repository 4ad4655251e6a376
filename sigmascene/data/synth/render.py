"""pyrender plumbing: one OffscreenRenderer per process, meshes and textures turned into pyrender objects.

Masks come from depth, not from pyrender's SEG pass: the offscreen framebuffer is 4x multisampled and its colour
resolve averages neighbouring instance colours at edges (id 1 next to id 3 reads as id 2), while depth is resolved
by picking one sample. A pixel belongs to subject k when k, rendered alone, has the same depth there as the full
scene — exact, and by construction consistent with the depth map that ships with the sample.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .identities import ObjectMesh

_RENDERER: Any = None
SHADOW_MAP = 512


def renderer(width: int, height: int) -> Any:
    """This process's renderer, resized if needed: creating a GL context costs far more than a frame."""
    global _RENDERER
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    import pyrender

    if _RENDERER is None:
        _small_shadow_maps()
        _RENDERER = pyrender.OffscreenRenderer(width, height)
    elif (_RENDERER.viewport_width, _RENDERER.viewport_height) != (width, height):
        _RENDERER.viewport_width, _RENDERER.viewport_height = width, height
    return _RENDERER


def _small_shadow_maps(size: int = SHADOW_MAP) -> None:
    """Shrink pyrender's shadow maps from 2048² to `size`² in this (renderer-owning) process.

    pyrender hard-codes the size as a module constant; on a software GL (llvmpipe) a 2048² shadow pass cost ~4x
    the whole 256² frame, while 512² texels (~2.5 cm across our 12 m rooms) are finer than a 256² pixel.
    """
    import pyrender.light
    import pyrender.renderer

    pyrender.light.SHADOW_TEX_SZ = size
    pyrender.renderer.SHADOW_TEX_SZ = size


def _with_bounds(mesh: Any, positions: np.ndarray) -> Any:
    # pyrender 0.1.45 computes Mesh.bounds with np.infty, which numpy 2 removed; precomputing it avoids that path.
    mesh._bounds = np.stack([positions.min(axis=0), positions.max(axis=0)]).astype(np.float64)
    return mesh


def object_mesh(obj: ObjectMesh) -> Any:
    import pyrender
    from pyrender.constants import GLTF

    # No mipmaps: the atlas packs many tiles side by side and coarser mip levels would bleed them together.
    sampler = pyrender.Sampler(magFilter=GLTF.LINEAR, minFilter=GLTF.LINEAR, wrapS=GLTF.CLAMP_TO_EDGE,
                               wrapT=GLTF.CLAMP_TO_EDGE)
    tex = pyrender.Texture(source=obj.texture, source_channels="RGB", sampler=sampler)
    material = pyrender.MetallicRoughnessMaterial(baseColorTexture=tex, metallicFactor=0.0,
                                                  roughnessFactor=obj.roughness)
    prim = pyrender.Primitive(positions=obj.positions, normals=obj.normals, texcoord_0=obj.uvs,
                              indices=obj.faces, material=material)
    return _with_bounds(pyrender.Mesh([prim]), obj.positions)


def textured_quad(corners: np.ndarray, image: np.ndarray, repeat: tuple[float, float]) -> Any:
    """A rectangle (4 corners, counter-clockwise seen from its front) carrying a tiled texture."""
    import pyrender
    from pyrender.constants import GLTF

    c = np.asarray(corners, dtype=np.float32)
    n = np.cross(c[1] - c[0], c[2] - c[0])
    n = (n / np.linalg.norm(n)).astype(np.float32)
    uv = np.array([[0, 0], [repeat[0], 0], [repeat[0], repeat[1]], [0, repeat[1]]], dtype=np.float32)
    sampler = pyrender.Sampler(magFilter=GLTF.LINEAR, minFilter=GLTF.LINEAR_MIPMAP_LINEAR,
                               wrapS=GLTF.REPEAT, wrapT=GLTF.REPEAT)
    tex = pyrender.Texture(source=image, source_channels="RGB", sampler=sampler)
    material = pyrender.MetallicRoughnessMaterial(baseColorTexture=tex, metallicFactor=0.0, roughnessFactor=0.9)
    prim = pyrender.Primitive(positions=c, normals=np.tile(n, (4, 1)), texcoord_0=uv,
                              indices=np.array([[0, 1, 2], [0, 2, 3]], dtype=np.uint32), material=material)
    return _with_bounds(pyrender.Mesh([prim]), c)
