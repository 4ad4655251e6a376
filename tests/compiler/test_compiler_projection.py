"""3D placements land where the pinhole model says, with the depth it says."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh
from PIL import Image

import sigmascene
from sigmascene import Scene, box2d, box3d, camera, mesh
from sigmascene.renderers.camera import box_corners, object_matrix, project, rotation_matrix

W, H = 160, 128


def _scene(tmp_path, cam) -> Scene:
    Image.new("RGB", (32, 32), (120, 60, 200)).save(tmp_path / "ref.png")
    s = Scene(canvas=(W, H))
    s.camera = cam
    s.base_dir = tmp_path
    return s


def _hull_mask(uv: np.ndarray) -> np.ndarray:
    """Pixels whose centres fall in the convex hull of projected points (the reference silhouette)."""
    from matplotlib.path import Path as PolyPath
    from scipy.spatial import ConvexHull

    jj, ii = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    inside = PolyPath(uv[ConvexHull(uv).vertices]).contains_points(np.c_[jj.ravel(), ii.ravel()])
    return inside.reshape(H, W)


def _pixel_extent(u: np.ndarray, size: int) -> tuple[int, int]:
    return math.ceil(u.min() - 0.5), math.ceil(u.max() - 0.5) - 1


@pytest.mark.parametrize("cam, centre, size, angles", [
    (camera((0, 0, 0), None, 60), (0.3, -0.2, -4.0), (1.0, 0.8, 0.6), (0, 0, 0)),
    (camera((0, 1.6, 4), (0, 0.8, 0), 55), (0.3, 0.25, 1.0), (0.8, 0.5, 0.5), (30, 0, 0)),
    (camera((2, 2, 3), (0, 0, 0), 45), (-0.2, 0.1, 0.2), (0.6, 1.0, 0.4), (-40, 20, 10)),
])
def test_box_corners_project_where_the_pinhole_model_says(tmp_path, cam, centre, size, angles):
    s = _scene(tmp_path, cam)
    yaw, pitch, roll = angles
    s.add_subject("box", "ref.png", box3d(centre, size, yaw=yaw, pitch=pitch, roll=roll))
    c = sigmascene.compile(s)
    uv, depth = project(box_corners(centre, size, yaw, pitch, roll), cam, W, H)
    assert (depth > 0).all()
    cov = c.coverage["box"]
    ys, xs = np.nonzero(cov)
    # The silhouette's pixel extent is the corners' projected extent (pixel-centre rule), to 1 pixel.
    for got, want in ((xs.min(), _pixel_extent(uv[:, 0], W)[0]), (xs.max(), _pixel_extent(uv[:, 0], W)[1]),
                      (ys.min(), _pixel_extent(uv[:, 1], H)[0]), (ys.max(), _pixel_extent(uv[:, 1], H)[1])):
        assert abs(int(got) - int(want)) <= 1
    # Every projected corner sits on (or within a pixel of) the rendered silhouette.
    for u, v in uv:
        j, i = int(np.clip(math.floor(u), 0, W - 1)), int(np.clip(math.floor(v), 0, H - 1))
        assert cov[max(0, i - 1):i + 2, max(0, j - 1):j + 2].any()
    # The whole silhouette is the convex hull of the corners.
    hull = _hull_mask(uv)
    iou = (cov & hull).sum() / (cov | hull).sum()
    assert iou > 0.98


def test_visible_depth_is_the_front_face_distance(tmp_path):
    s = _scene(tmp_path, camera((0, 0, 0), None, 60))
    s.add_subject("box", "ref.png", box3d((0.0, 0.0, -3.5), (1.0, 1.0, 1.0)))
    c = sigmascene.compile(s)
    assert c.depth[H // 2, W // 2] == pytest.approx(3.0, abs=1e-3)
    entry = c.manifest["subjects"][0]
    assert entry["depth"] == pytest.approx(3.5) and entry["depth_source"] == "geometry"


def test_overlapping_boxes_route_by_per_pixel_depth(tmp_path):
    s = _scene(tmp_path, camera((0, 0, 0), None, 60))
    s.add_subject("near", "ref.png", box3d((0.0, 0.0, -3.0), (1.0, 1.0, 0.5)))
    s.add_subject("far", "ref.png", box3d((0.4, 0.0, -6.0), (2.0, 1.0, 0.5)))
    c = sigmascene.compile(s)
    assert c.order == ["far", "near"]
    both = c.coverage["near"] & c.coverage["far"]
    assert both.any()
    assert (c.ir_asc[both] == 20).all() and (c.ir_desc[both] == 10).all()
    assert c.depth[both].max() < 3.0 and c.depth[c.coverage["far"] & ~both].min() > 5.5


def test_flat_card_between_boxes_is_compared_per_pixel(tmp_path):
    s = _scene(tmp_path, camera((0, 0, 0), None, 60))
    s.add_subject("box", "ref.png", box3d((0.0, 0.0, -4.0), (1.0, 1.0, 1.0)))
    s.add_subject("card_front", "ref.png", box2d(0.0, 0.0, 0.5, 1.0), depth=2.0)
    s.add_subject("card_back", "ref.png", box2d(0.5, 0.0, 1.0, 1.0), depth=8.0)
    c = sigmascene.compile(s)
    box = c.coverage["box"]
    left, right = box & c.coverage["card_front"], box & c.coverage["card_back"]
    assert (c.ir_asc[left] == c.intensity("card_front")).all()
    assert (c.ir_asc[right] == c.intensity("box")).all()
    assert (c.ir_desc[right] == c.intensity("card_back")).all()
    assert (c.ir_desc[left] == c.intensity("box")).all()


def test_mesh_silhouette_matches_its_projected_vertices(tmp_path):
    tri = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    tri.export(tmp_path / "ball.ply")
    cam = camera((0, 1, 5), (0, 0, 0), 50)
    s = _scene(tmp_path, cam)
    s.add_subject("ball", "ref.png", mesh("ball.ply", (0.5, 0.2, -0.5), scale=0.7, yaw=10))
    c = sigmascene.compile(s)
    m = object_matrix((0.5, 0.2, -0.5), 10, 0, 0, 0.7)
    uv, _ = project(tri.vertices @ m[:3, :3].T + m[:3, 3], cam, W, H)
    hull = _hull_mask(uv)
    iou = (c.coverage["ball"] & hull).sum() / (c.coverage["ball"] | hull).sum()
    assert iou > 0.98
    centre_uv, centre_d = project(np.array([[0.5, 0.2, -0.5]]), cam, W, H)
    j, i = (int(v) for v in centre_uv[0])
    assert c.depth[i, j] == pytest.approx(centre_d[0] - 0.7, abs=0.02)  # front of the sphere


def test_look_at_point_projects_to_the_canvas_centre_and_yaw_turns_x_towards_minus_z():
    cam = camera((1, 2, 3), (0.2, 0.1, -0.4), 40)
    uv, d = project(np.array([[0.2, 0.1, -0.4]]), cam, W, H)
    assert uv[0] == pytest.approx([W / 2, H / 2]) and d[0] > 0
    assert rotation_matrix(90, 0, 0) @ np.array([1.0, 0, 0]) == pytest.approx([0, 0, -1])
    assert rotation_matrix(0, 90, 0) @ np.array([0, 1.0, 0]) == pytest.approx([0, 0, 1])
    assert rotation_matrix(0, 0, 90) @ np.array([1.0, 0, 0]) == pytest.approx([0, 1, 0])


def test_box_behind_the_camera_warns_instead_of_failing(tmp_path):
    s = _scene(tmp_path, camera((0, 0, 0), None, 60))
    s.add_subject("ahead", "ref.png", box3d((0, 0, -3), (1, 1, 1)))
    s.add_subject("behind", "ref.png", box3d((0, 0, 3), (1, 1, 1)))
    c = sigmascene.compile(s)
    assert not c.coverage["behind"].any()
    assert any("'behind' is outside the camera view" in w for w in c.warnings)


_FORK_SCRIPT = """
import multiprocessing as mp, sys
from PIL import Image
import sigmascene
from sigmascene import Scene, box3d, camera
from sigmascene.renderers.pyrender3d import ForkedAfterRenderError

def compile_error(scene):
    try:
        sigmascene.compile(scene)
    except ForkedAfterRenderError as exc:
        return str(exc)
    return "rendered"

def compile_control(scene):
    return sigmascene.compile(scene).control

if __name__ == "__main__":
    Image.new("RGB", (32, 32), (120, 60, 200)).save(sys.argv[1] + "/ref.png")
    s = Scene(canvas=(64, 48), camera=camera((0, 0, 0), None, 60))
    s.base_dir = sys.argv[1]
    s.add_subject("box", "ref.png", box3d((0.0, 0.0, -3.5), (1.0, 1.0, 1.0)))
    parent = sigmascene.compile(s).control
    with mp.get_context("fork").Pool(1) as pool:
        message = pool.apply(compile_error, (s,))
    assert "spawn" in message, message
    with mp.get_context("spawn").Pool(1) as pool:
        child = pool.apply(compile_control, (s,))
    assert (child == parent).all()
    print("ok")
"""


def test_a_worker_forked_after_rendering_fails_fast_and_spawned_workers_render(tmp_path):
    """Trainers compile in data-loader workers; OpenGL contexts cannot cross fork(), so say so, never hang.

    Runs in a fresh interpreter: forking the test runner itself (with threads started by torch and the other
    tests' libraries) can deadlock in the child before the renderer is reached, which is not what this checks."""
    import subprocess
    import sys

    script = tmp_path / "fork_check.py"
    script.write_text(_FORK_SCRIPT)
    res = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=180)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stderr[-2000:]
