"""3D boxes and mesh proxies through the scene camera with pyrender (EGL, offscreen), all subjects at once.

One pyrender scene holds every 3D subject of a Scene and is drawn twice with flat per-subject segmentation
colours: once with the ordinary depth test (the NEAREST subject surface per pixel: IR_asc and I_T) and once
through a camera whose projection has its depth row negated, which turns GL_LESS into "keep the FARTHEST
front-facing surface" (IR_desc) without touching OpenGL state that pyrender owns. Segmentation passes run
without multisampling, so ids are exact. Renderers are expensive to create (an EGL context and framebuffers),
so one is kept per canvas size, and the GPU copies of meshes are kept with it.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ..core.owned_cache import OwnedCache
from ..errors import SigmaError, SourceLoc
from ..scene import Camera
from .camera import camera_to_world

Z_NEAR = 0.01

_renderers: dict[tuple[int, int], object] = {}
_gpu_meshes = OwnedCache(64)
_lock = threading.Lock()
_unit_box = None


class ForkedAfterRenderError(RuntimeError):
    """Raised instead of hanging: OpenGL contexts do not survive fork()."""


@dataclass
class Item3D:
    """One 3D subject: a trimesh in its own frame and its object-to-world matrix (T @ R @ S)."""

    mesh: Any  # a trimesh.Trimesh
    matrix: np.ndarray
    loc: SourceLoc | None = None


@dataclass
class Render3D:
    """Per-pixel results; ids are 1 + the item's position in the list, 0 where no 3D subject is."""

    near_id: np.ndarray
    near_depth: np.ndarray
    far_id: np.ndarray
    far_depth: np.ndarray


def unit_box():
    """A 1 m cube centred on the origin; 3D boxes are this cube scaled by their size."""
    global _unit_box
    if _unit_box is None:
        import trimesh

        _unit_box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    return _unit_box


def world_bounds(item: Item3D) -> np.ndarray:
    """The 8 world-space corners of the item's own bounding box (cheap extent and ordering queries)."""
    lo, hi = np.asarray(item.mesh.bounds, float)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    return corners @ item.matrix[:3, :3].T + item.matrix[:3, 3]


def camera_inside(item: Item3D, cam: Camera) -> bool:
    """Whether the camera stands inside the item's own bounding box (then back-face culling hides all of it)."""
    try:
        local = np.linalg.solve(item.matrix, np.append(np.asarray(cam.position, float), 1.0))[:3]
    except np.linalg.LinAlgError:
        return False
    lo, hi = np.asarray(item.mesh.bounds, float)
    return bool(np.all(local >= lo) and np.all(local <= hi))


MIN_EXTENT, MAX_EXTENT = 1e-6, 1e7  # metres: what float32 depth buffers and projections draw faithfully


def _check_extent(items: list[Item3D]) -> None:
    """A 3D subject too small or too large to draw is the scene's problem, not a missing OpenGL driver."""
    for it in items:
        corners = world_bounds(it)
        extent = float(np.ptp(corners, axis=0).max()) if np.isfinite(corners).all() else float("inf")
        if not MIN_EXTENT <= extent <= MAX_EXTENT:
            raise SigmaError(f"3D subject is {extent:.3g} m across, outside the {MIN_EXTENT:g} to {MAX_EXTENT:g} m "
                             f"that can be drawn", it.loc,
                             "check the box size, or the mesh's units and its `scale`")


_owner_pid = os.getpid()


def _renderer(width: int, height: int):
    global _owner_pid
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    if os.getpid() != _owner_pid:
        if _renderers:  # Mesa's EGL hangs when a forked child opens a context its parent already had open
            raise ForkedAfterRenderError(
                "the 3D renderer was started in the parent before this process was forked, and OpenGL "
                "cannot be used after fork; start workers with multiprocessing's 'spawn' or 'forkserver' "
                "method (DataLoader(multiprocessing_context='spawn')), or render only inside the workers")
        _owner_pid = os.getpid()
    r = _renderers.get((width, height))
    if r is None:
        import pyrender

        r = pyrender.OffscreenRenderer(width, height)
        _renderers[(width, height)] = r
    return r


def _gpu_mesh(size: tuple[int, int], tm) -> object:
    """pyrender meshes are bound to one GL context, so they are cached per renderer."""
    import pyrender

    return _gpu_meshes.get(tm, lambda: pyrender.Mesh.from_trimesh(tm, smooth=False), size)


def _cameras(cam: Camera, width: int, height: int, zfar: float):
    import pyrender

    class FarthestCamera(pyrender.PerspectiveCamera):
        """Negating the projection's depth row keeps the clip volume and reverses depth order."""

        def get_projection_matrix(self, width=None, height=None):
            p = super().get_projection_matrix(width, height).copy()
            p[2] *= -1.0
            return p

    kw = dict(yfov=np.radians(cam.fov), aspectRatio=width / height, znear=Z_NEAR, zfar=zfar)
    return pyrender.PerspectiveCamera(**kw), FarthestCamera(**kw)


def _far_linear_values(d: np.ndarray, zfar: float) -> np.ndarray:
    """pyrender linearises assuming the ordinary projection; undo that for the reversed camera (positive depths
    in, metres out, computed in float64)."""
    n, f = Z_NEAR, zfar
    z_rev = (f + n - 2.0 * n * f / d.astype(np.float64)) / (f - n)
    return 2.0 * n * f / (f + n + z_rev * (f - n))


def _no_gl(exc: Exception, items: list[Item3D]) -> SigmaError:
    return SigmaError(f"3D placements need an OpenGL renderer and none could be started "
                      f"({type(exc).__name__}: {exc})", items[0].loc,
                      "install EGL (libegl1, libgl1-mesa-dri) or use 2D placements")


def _release(r) -> None:
    """Make the EGL context current in no thread. EGL refuses to make a context current in a second thread
    while the first still holds it, and servers compile on worker threads; render() makes it current again.
    (pyrender's own EGL make_uncurrent does nothing.)"""
    display = getattr(r._platform, "_egl_display", None)
    if display is not None:
        from OpenGL.EGL import EGL_NO_CONTEXT, EGL_NO_SURFACE, eglMakeCurrent

        eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT)


def far_plane(items: list[Item3D], cam: Camera) -> float:
    """The far clipping plane render_3d uses: past every corner of every item (it changes the depth buffer's
    quantisation, so a partial re-render is exact only while it stays the same)."""
    corners = np.concatenate([world_bounds(it) for it in items])
    reach = float(np.linalg.norm(corners - np.asarray(cam.position, float), axis=1).max())
    return max(10.0, 2.0 * reach)


def render_3d(items: list[Item3D], cam: Camera, width: int, height: int, *,
              region: tuple[int, int, int, int] | None = None) -> Render3D:
    """Nearest and farthest 3D subject (and its view depth) at every pixel, from one pyrender scene.

    `region` (x0, y0, x1, y1), x0 and x1 multiples of 4: draw the whole scene as always but let only that window
    through (the GL scissor test, which leaves rasterisation and depth testing untouched) and read back only it;
    the result has the window's shape and equals the same window of a full render, value for value. The
    editor re-renders just where a moved subject was and is (compiler/reuse.py)."""
    if not items:
        z8, zf = np.zeros((height, width), np.uint8), np.zeros((height, width), np.float32)
        return Render3D(z8, zf, z8.copy(), zf.copy())
    if len(items) > 254:
        raise ValueError("at most 254 3D subjects per render")
    _check_extent(items)
    zfar = far_plane(items, cam)
    with _lock:
        try:
            import pyrender
            from pyrender.constants import RenderFlags

            r = _renderer(width, height)
        except (SigmaError, ForkedAfterRenderError):
            raise
        except Exception as exc:  # noqa: BLE001 - no EGL / no GL driver: say what to install, not a GL traceback
            raise _no_gl(exc, items) from None
        try:
            scene = pyrender.Scene(bg_color=(0.0, 0.0, 0.0, 0.0), ambient_light=(0.0, 0.0, 0.0))
            seg = {}
            for k, it in enumerate(items):
                node = scene.add(_gpu_mesh((width, height), it.mesh), pose=it.matrix)
                seg[node] = (k + 1, 0, 0)
            near_cam, far_cam = _cameras(cam, width, height, zfar)
            pose = camera_to_world(cam)
            near_node = scene.add(near_cam, pose=pose)
            far_node = scene.add(far_cam, pose=pose)
            # our own read-back (the red channel, depth linearised where there is geometry) for any 4-aligned
            # window, the whole canvas included; pyrender's for a canvas whose rows are not
            with _window(r, region if region is not None or width % 4 else (0, 0, width, height)):
                scene.main_camera_node = near_node
                near_col, near_d = r.render(scene, flags=RenderFlags.SEG, seg_node_map=seg)
                scene.main_camera_node = far_node
                far_col, far_d = r.render(scene, flags=RenderFlags.SEG, seg_node_map=seg)
        except (SigmaError, ForkedAfterRenderError):
            raise
        except Exception as exc:  # noqa: BLE001 - a GL failure mid-render: the same "what to install" message
            raise _no_gl(exc, items) from None
        finally:
            _release(r)
    near_id = np.ascontiguousarray(near_col[..., 0])
    far_id = np.ascontiguousarray(far_col[..., 0])
    # where(id > 0, depth, 0) for the near pass, and the far pass's depth re-linearised where it has a subject:
    # written in place, the same numbers without two canvas-sized copies per pass
    near_depth = np.array(near_d, np.float32, copy=not near_d.flags.writeable or not near_d.flags.c_contiguous)
    near_depth[near_id == 0] = 0.0
    far_depth = np.zeros(far_id.shape, np.float32)
    hit = (far_id > 0) & (far_d > 0)
    far_depth[hit] = _far_linear_values(far_d[hit], zfar)
    return Render3D(near_id, near_depth, far_id, far_depth)


@contextmanager
def _window(r, region: tuple[int, int, int, int] | None) -> Iterator[None]:
    """Scissor to `region` and read back only it (see render_3d); nothing changes when region is None."""
    if region is None:
        yield
        return
    from OpenGL.GL import GL_SCISSOR_TEST, glDisable, glEnable, glScissor

    x0, y0, x1, y1 = region
    height = r.viewport_height
    inner = r._renderer
    r._platform.make_current()
    glEnable(GL_SCISSOR_TEST)
    glScissor(x0, height - y1, x1 - x0, y1 - y0)
    inner._read_main_framebuffer = lambda scene, flags: _read_window(inner, region, scene)
    try:
        yield
    finally:
        del inner._read_main_framebuffer
        r._platform.make_current()
        glDisable(GL_SCISSOR_TEST)


def _read_window(inner, region: tuple[int, int, int, int], scene) -> tuple[np.ndarray, np.ndarray]:
    """pyrender's Renderer._read_main_framebuffer (0.1.45) for one window: the same resolve blits (of the window),
    the same depth linearisation in the same float32 arithmetic, so each value equals the full read's."""
    from OpenGL.GL import (GL_COLOR_BUFFER_BIT, GL_DEPTH_BUFFER_BIT, GL_DEPTH_COMPONENT, GL_DRAW_FRAMEBUFFER,
                           GL_FLOAT, GL_LINEAR, GL_NEAREST, GL_READ_FRAMEBUFFER, GL_RED, GL_UNSIGNED_BYTE,
                           glBindFramebuffer, glBlitFramebuffer, glReadPixels)

    height = inner._main_fb_dims[1]
    x0, y0, x1, y1 = region
    w, h = x1 - x0, y1 - y0
    glBindFramebuffer(GL_READ_FRAMEBUFFER, inner._main_fb_ms)
    glBindFramebuffer(GL_DRAW_FRAMEBUFFER, inner._main_fb)
    # resolve only the window: a multisample resolve is per pixel, so these pixels are the full resolve's
    box = (x0, height - y1, x1, height - y0)
    glBlitFramebuffer(*box, *box, GL_COLOR_BUFFER_BIT, GL_LINEAR)
    glBlitFramebuffer(*box, *box, GL_DEPTH_BUFFER_BIT, GL_NEAREST)
    glBindFramebuffer(GL_READ_FRAMEBUFFER, inner._main_fb)
    raw = np.frombuffer(glReadPixels(x0, height - y1, w, h, GL_DEPTH_COMPONENT, GL_FLOAT), dtype=np.float32)
    raw = np.flip(raw.reshape((h, w)), axis=0)
    z_near = scene.main_camera_node.camera.znear
    z_far = scene.main_camera_node.camera.zfar
    noninf = raw != 1.0
    d = 2.0 * raw[noninf] - 1.0  # pyrender's float32 steps, on the pixels with geometry only
    depth_im = np.zeros((h, w), np.float32)
    depth_im[noninf] = (2.0 * z_near * z_far) / (z_far + z_near - d * (z_far - z_near))
    # the segmentation id is the red channel: one byte per pixel read back instead of three (w is 4-aligned)
    red = np.frombuffer(glReadPixels(x0, height - y1, w, h, GL_RED, GL_UNSIGNED_BYTE), dtype=np.uint8)
    return np.flip(red.reshape((h, w, 1)), axis=0), depth_im
