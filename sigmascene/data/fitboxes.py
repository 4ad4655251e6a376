"""`data fit-boxes`: 2D and 3D boxes for users' own data, from masks + depth + intrinsics (open3d).

A depth map only sees the near side of a subject, so a box fitted to the raw points is too thin along the
viewing ray. Upright fitting (the default) uses the one prior that holds for things standing in a room: they
are upright on the floor. The footprint is then a 2D rectangle (minimum-area, over the points' convex hull)
plus a height, and when the side facing away from the camera is clearly unobserved (the footprint is much
shallower along the viewing direction than across it) the box is grown away from the camera, on the
assumption that what is hidden is about as deep as what is seen is wide; `--free` fits an oriented box to the
points with no prior (open3d's minimal OBB) and is right only for fully observed subjects.
Accuracy against the synthetic world's exact boxes is measured by `evaluate_fit` (docs/dataset.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from ..errors import AssetError, SigmaError
from .geometry import backproject, box_from_pose, box_iou_2d, box_iou_3d, camera_up, mask_box
from .io import load_dataset, load_depth, load_mask, resolve, write_index
from .schema import Box3DRecord, CameraRecord, Sample

MIN_POINTS = 12


def _o3d():
    try:
        import open3d
    except ImportError as e:  # an optional dependency: say how to get it
        raise SigmaError("fitting 3D boxes needs open3d", hint="pip install 'sigmascene[data]'") from e
    # its minimal-OBB search warns on stdout about candidates it then discards; our fallback handles those
    open3d.utility.set_verbosity_level(open3d.utility.VerbosityLevel.Error)
    return open3d


def clean_points(points: np.ndarray) -> np.ndarray:
    """Drop flying pixels and stray background: statistical outlier removal on the back-projected mask."""
    o3d = _o3d()
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    if len(points) > 20000:  # density, not count, decides the box; keep it quick
        pcd = pcd.voxel_down_sample(voxel_size=float(np.ptp(points, axis=0).max()) / 150)
    if len(pcd.points) >= 30:
        pcd, _ = pcd.remove_statistical_outlier(nb_neighbors=20, std_ratio=2.0)
    return np.asarray(pcd.points)


def floor_plane(depth: np.ndarray, cam: CameraRecord, background: np.ndarray,
                up: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
    """The floor as (n, d) with n·p + d = 0 in camera coordinates (n pointing up), found by RANSAC among the
    background's planes: the largest one facing up (within 50° of camera up, or 15° of a known `up`)."""
    o3d = _o3d()
    pts = backproject(depth, cam, background)
    if len(pts) < 200:
        return None
    pts = pts[np.random.default_rng(0).permutation(len(pts))[:20000]]
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    scale = float(np.median(-pts[:, 2]))
    ref, limit = (np.array([0.0, 1.0, 0.0]), 50.0) if up is None else (up, 15.0)
    o3d.utility.random.seed(0)
    for _ in range(3):  # walls can out-number the floor: peel planes off until one faces up
        if len(pcd.points) < 100:
            return None
        (a, b, c, d), inliers = pcd.segment_plane(distance_threshold=0.01 * scale, ransac_n=3, num_iterations=300)
        norm = float(np.linalg.norm([a, b, c]))
        n, d = np.array([a, b, c]) / norm, d / norm
        if n @ ref < 0:
            n, d = -n, -d
        if len(inliers) < 0.05 * len(pts):
            return None
        if n @ ref >= np.cos(np.radians(limit)):
            return n, float(d)
        pcd = pcd.select_by_index(inliers, invert=True)
    return None


def _min_area_rect(xy: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(angle, centre, extents) of the minimum-area rectangle around 2D points (rotating calipers on the hull)."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = xy[ConvexHull(xy).vertices]
    except QhullError:  # collinear points: a degenerate rectangle along their spread
        hull = xy
    edges = np.diff(np.vstack([hull, hull[:1]]), axis=0)
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2))
    best: tuple[float, float, np.ndarray, np.ndarray] | None = None
    for a in angles:
        c, s = np.cos(a), np.sin(a)
        r = hull @ np.array([[c, -s], [s, c]])
        lo, hi = r.min(axis=0), r.max(axis=0)
        area = float(np.prod(hi - lo))
        if best is None or area < best[0]:
            mid = (lo + hi) / 2
            best = (area, a, np.array([[c, s], [-s, c]]).T @ mid, hi - lo)
    if best is None:
        raise ValueError("no points to fit a rectangle to")
    _, angle, centre, ext = best
    return float(angle), centre, ext


def fit_upright(points: np.ndarray, up: np.ndarray, complete: bool = True, pixel: float = 0.0,
                floor: tuple[np.ndarray, float] | None = None) -> Box3DRecord:
    """An upright box (one axis along `up`) around camera-space points; see the module docstring for `complete`.

    `pixel` is a pixel's footprint in metres at the subject (points are pixel centres, so the silhouette lies
    half a pixel further out); with a `floor` plane, a box whose bottom ends just above it is extended down to
    it, since the contact region is hidden from any camera but belongs to the subject.
    """
    y = up / np.linalg.norm(up)
    x = np.array([1.0, 0.0, 0.0]) - y[0] * y
    x /= np.linalg.norm(x)
    z = np.cross(x, y)
    frame = np.stack([x, y, z], axis=1)  # columns: the upright frame's axes in camera coordinates
    q = points @ frame
    angle, centre, ext = _min_area_rect(q[:, [0, 2]])
    ext = ext + pixel
    c, s = np.cos(angle), np.sin(angle)
    axes = np.array([[c, s], [-s, c]])  # rows: the rectangle's two axes in the (x, z) footprint plane
    if complete:
        view = centre / max(np.linalg.norm(centre), 1e-9)  # from the camera (origin) to the footprint centre
        align = np.abs(axes @ view)
        k = int(np.argmax(align))
        if align[k] > np.cos(np.radians(30)) and ext[k] < ext[1 - k]:
            grow = ext[1 - k] - ext[k]
            direction = np.sign(axes[k] @ view)  # away from the camera
            centre = centre + axes[k] * direction * grow / 2
            ext = ext.copy()
            ext[k] = ext[1 - k]
    lo, hi = q[:, 1].min(), q[:, 1].max() + pixel / 2
    if floor is not None:
        n, d = floor
        base = frame @ np.array([centre[0], lo, centre[1]])
        drop = -(n @ base + d) / max(float(n @ y), 1e-6)  # signed distance down to the floor along y
        if -0.02 <= -drop <= 0.25 * (hi - lo) + 0.05:
            lo += drop
    centre_frame = np.array([centre[0], (lo + hi) / 2, centre[1]])
    # box axes: footprint axis 0 -> box x, up -> box y, footprint axis 1 -> box z
    a0 = frame @ np.array([axes[0][0], 0.0, axes[0][1]])
    a2 = frame @ np.array([axes[1][0], 0.0, axes[1][1]])
    rot = np.stack([a0, y, a2], axis=1)
    if np.linalg.det(rot) < 0:
        rot[:, 2] = -rot[:, 2]
    return box_from_pose(frame @ centre_frame, (max(ext[0], 1e-3), max(hi - lo, 1e-3), max(ext[1], 1e-3)), rot)


def fit_free(points: np.ndarray) -> Box3DRecord:
    """The smaller of open3d's minimal and PCA oriented boxes (the minimal one occasionally comes back empty)."""
    o3d = _o3d()
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    best = None
    for obb in (pcd.get_minimal_oriented_bounding_box(), pcd.get_oriented_bounding_box()):
        ext = np.asarray(obb.extent, dtype=np.float64)
        if (ext <= 0).any() or not np.isfinite(ext).all():
            continue
        if best is None or np.prod(ext) < np.prod(best.extent):
            best = obb
    if best is None:  # flat or collinear points: an axis-aligned box with a token thickness
        lo, hi = points.min(axis=0), points.max(axis=0)
        return box_from_pose((lo + hi) / 2, np.maximum(hi - lo, 1e-3), np.eye(3))
    rot = np.asarray(best.R, dtype=np.float64).copy()
    if np.linalg.det(rot) < 0:
        rot[:, 2] = -rot[:, 2]
    return box_from_pose(np.asarray(best.center), np.maximum(np.asarray(best.extent), 1e-3), rot)


def subject_points(mask: np.ndarray, depth: np.ndarray, cam: CameraRecord, erode: int = 0) -> np.ndarray:
    """Camera-space points of a mask; `erode` pixels come off its edge first where it can spare them (estimated
    depth maps blur across object edges; exact ones, like the synthetic world's, need no erosion)."""
    from scipy.ndimage import binary_erosion

    use = mask
    if erode > 0:
        inner = binary_erosion(mask, iterations=erode)
        if (inner & (depth > 0)).sum() >= 4 * MIN_POINTS:
            use = inner
    return backproject(depth, cam, use)


class SampleFitter:
    """Fits the boxes of one sample, sharing its depth map, floor plane and up direction across subjects."""

    def __init__(self, sample: Sample, root: Path, upright: bool = True, erode: int = 0):
        self.sample, self.root, self.upright, self.erode = sample, root, upright, erode
        self.depth = load_depth(resolve(root, sample.depth)) if sample.depth else None
        self.masks = {s.name: load_mask(resolve(root, s.mask)) for s in sample.subjects if s.mask}
        self._frame: tuple[np.ndarray, tuple[np.ndarray, float] | None] | None = None

    def ground(self) -> tuple[np.ndarray, tuple[np.ndarray, float] | None]:
        """(up, floor plane or None): up from the extrinsics, else the floor's normal, else camera +y."""
        if self._frame is None:
            up = camera_up(self.sample.camera)
            floor = None
            if self.depth is not None:
                fg = np.zeros(self.depth.shape, dtype=bool)
                for m in self.masks.values():
                    if m.shape == fg.shape:
                        fg |= m
                floor = floor_plane(self.depth, self.sample.camera, ~fg, up)
            if up is None:
                up = floor[0] if floor is not None else np.array([0.0, 1.0, 0.0])
            self._frame = (up, floor)
        return self._frame

    def box2d(self, name: str) -> tuple[int, int, int, int] | None:
        m = self.masks.get(name)
        return None if m is None else mask_box(m)

    def box3d(self, name: str) -> Box3DRecord | None:
        m = self.masks.get(name)
        if m is None or self.depth is None or m.shape != self.depth.shape:
            return None
        pts = subject_points(m, self.depth, self.sample.camera, self.erode)
        if len(pts) < MIN_POINTS:
            return None
        pts = clean_points(pts)
        if len(pts) < MIN_POINTS:
            return None
        if not self.upright:
            return fit_free(pts)
        up, floor = self.ground()
        pixel = float(np.median(-pts[:, 2])) / self.sample.camera.fx
        return fit_upright(pts, up, pixel=pixel, floor=floor)


Progress = Optional[Callable[[int, int], None]]


def fit_dataset(root: str | Path, upright: bool = True, overwrite: bool = False, erode: int = 0,
                on_progress: Progress = None) -> dict:
    """Fill missing (or, with `overwrite`, all) boxes in place; index.jsonl is rewritten atomically."""
    root = Path(root)
    samples = load_dataset(root)
    done: dict[str, Any] = {"box2d": 0, "box3d": 0, "skipped": 0, "notes": []}
    for k, sample in enumerate(samples):
        if on_progress:
            on_progress(k, len(samples))
        fitter = SampleFitter(sample, root, upright, erode)
        if sample.camera.estimated and any(s.box3d is None or overwrite for s in sample.subjects):
            done["notes"].append(f"index.jsonl:{sample.line}: note: intrinsics are assumed (--fov), 3D boxes are "
                                 "only as right as that guess")
        for s in sample.subjects:
            if s.box2d is None or overwrite:
                b = fitter.box2d(s.name)
                if b is not None:
                    s.box2d, done["box2d"] = b, done["box2d"] + 1
            if s.box3d is None or overwrite:
                b3 = fitter.box3d(s.name)
                if b3 is None:
                    done["skipped"] += 1
                    why = ("no mask" if not s.mask else "no depth map" if fitter.depth is None
                           else "too few depth points")
                    done["notes"].append(f"index.jsonl:{sample.line}: note: no box3d for '{s.name}' ({why})")
                else:
                    s.box3d, done["box3d"] = b3, done["box3d"] + 1
    write_index(root, samples)
    if on_progress:
        on_progress(len(samples), len(samples))
    return done


def evaluate_fit(root: str | Path, upright: bool = True, min_visible: float = 0.5, erode: int = 0,
                 on_progress: Progress = None) -> dict:
    """Fit every subject that has a reference box3d and compare: mean/median 3D IoU, centre error, 2D IoU."""
    root = Path(root)
    samples = load_dataset(root)
    ious, errs, ious2d = [], [], []
    for k, sample in enumerate(samples):
        if on_progress:
            on_progress(k, len(samples))
        fitter = SampleFitter(sample, root, upright, erode)
        for s in sample.subjects:
            if s.box3d is None or (s.visible_fraction is not None and s.visible_fraction < min_visible):
                continue
            fit = fitter.box3d(s.name)
            ious.append(0.0 if fit is None else box_iou_3d(fit, s.box3d))
            errs.append(np.inf if fit is None else float(np.linalg.norm(np.subtract(fit.center, s.box3d.center))))
            b2 = fitter.box2d(s.name)
            if b2 is not None and s.box2d is not None:
                ious2d.append(box_iou_2d(b2, s.box2d))
    if on_progress:
        on_progress(len(samples), len(samples))
    if not ious:
        raise AssetError(f"no subject in {root} has a box3d to compare with (and visibility >= {min_visible:g})")
    finite = [e for e in errs if np.isfinite(e)]
    return {"subjects": len(ious), "mean_iou": float(np.mean(ious)), "median_iou": float(np.median(ious)),
            "mean_centre_error_m": float(np.mean(finite)) if finite else float("inf"),
            "failed": len(errs) - len(finite), "mean_iou_2d": float(np.mean(ious2d)) if ious2d else 0.0}
