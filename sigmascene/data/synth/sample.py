"""One synthetic sample: room + camera + subjects → target, masks, depth, boxes, identity images, prompts.

Everything a sample contains is drawn from `default_rng([seed, index])`, so sample 17 of seed 3 is the same
picture whichever worker renders it, in whatever order, in a first run or a resumed one.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from ...renderers.camera import look_at_pose
from ..geometry import box_from_pose, intrinsics_from_fov, mask_box
from ..io import save_npy, save_png
from ..schema import CameraRecord, Prompts, Sample, SubjectRecord
from .config import SynthConfig, sample_id
from .identities import Identity, build_mesh, sample_identity
from .layout import Placed, place_one, place_subjects
from .render import object_mesh, renderer
from .rooms import LIGHT_TONES, CameraPose, pyrender_lights, room_nodes, sample_camera, sample_room

SAMPLES_DIR = "samples"


def pool_identity(cfg: SynthConfig, k: int) -> Identity:
    return sample_identity(np.random.default_rng([cfg.seed, k, 0x1D]), f"pool-{k:05d}")


def pick_identities(cfg: SynthConfig, rng: np.random.Generator, n: int, index: int) -> list[Identity]:
    if cfg.identities:
        ks = rng.choice(cfg.identities, size=n, replace=False)
        return [pool_identity(cfg, int(k)) for k in ks]
    return [sample_identity(rng, f"{sample_id(index)}-{j}") for j in range(n)]


def subject_names(placed: list[Placed]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for p in placed:
        base = p.identity.shape
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return out


class _Target:
    """The pyrender scene of one sample, with the per-subject passes that yield exact visible masks."""

    def __init__(self, room, cam: CameraPose, placed: list[Placed], width: int, height: int):
        import pyrender

        self.width, self.height = width, height
        self.scene = pyrender.Scene(ambient_light=np.full(3, room.ambient), bg_color=[0.0, 0.0, 0.0, 1.0])
        self.room_meshes = []
        for mesh, pose in room_nodes(room):
            self.scene.add(mesh, pose=pose)
            self.room_meshes.append(mesh)
        for light, pose in pyrender_lights(room.lights):
            self.scene.add(light, pose=pose)
        aspect = width / height
        self.scene.add(pyrender.PerspectiveCamera(yfov=math.radians(cam.fov), aspectRatio=aspect, znear=0.05,
                                                  zfar=30.0), pose=cam.cam_to_world)
        self.placed: list[Placed] = []
        self.nodes: list = []
        for p in placed:
            self.add(p)

    def add(self, p: Placed) -> None:
        self.placed.append(p)
        self.nodes.append(self.scene.add(object_mesh(build_mesh(p.identity)), pose=p.pose))

    def remove(self, k: int) -> None:
        self.scene.remove_node(self.nodes.pop(k))
        self.placed.pop(k)

    def move(self, k: int, p: Placed) -> None:
        self.placed[k] = p
        self.scene.set_pose(self.nodes[k], p.pose)

    def _all_meshes(self) -> list:
        return self.room_meshes + [n.mesh for n in self.nodes]

    def alone_depths(self) -> list[np.ndarray]:
        """Depth of each subject rendered with nothing else in the room (its unoccluded silhouette)."""
        from pyrender.constants import RenderFlags

        r = renderer(self.width, self.height)
        meshes, out = self._all_meshes(), []
        for node in self.nodes:
            for m in meshes:
                m.is_visible = m is node.mesh
            out.append(r.render(self.scene, flags=RenderFlags.DEPTH_ONLY))
        for m in meshes:
            m.is_visible = True
        return out

    def full_depth(self) -> np.ndarray:
        from pyrender.constants import RenderFlags

        return renderer(self.width, self.height).render(self.scene, flags=RenderFlags.DEPTH_ONLY)

    def colour(self) -> tuple[np.ndarray, np.ndarray]:
        from pyrender.constants import RenderFlags

        return renderer(self.width, self.height).render(self.scene, flags=RenderFlags.SHADOWS_DIRECTIONAL)


def visible_masks(full: np.ndarray, alone: list[np.ndarray]) -> list[np.ndarray]:
    """Subject k is visible where it, alone, is as near as the whole scene (relative tolerance for shader noise)."""
    return [(a > 0) & (np.abs(a - full) <= 1e-4 * np.maximum(full, 1.0)) for a in alone]


def _settle(rng: np.random.Generator, cfg: SynthConfig, target: _Target, cam: CameraPose) -> list[np.ndarray]:
    """Move (up to 3 times), then drop, subjects too hidden to be worth a mask; returns the final alone depths."""
    w, h = target.width, target.height
    for attempt in range(5):
        alone = target.alone_depths()
        masks = visible_masks(target.full_depth(), alone)
        bad = [k for k, m in enumerate(masks) if m.sum() < cfg.min_pixels]
        if not bad:
            return alone
        for k in reversed(bad):
            others = [p for j, p in enumerate(target.placed) if j != k]
            moved = place_one(rng, target.placed[k].identity, cam, w, h, others) if attempt < 3 else None
            if moved is None:
                target.remove(k)
            else:
                target.move(k, moved)
    return target.alone_depths()


def _identity_azimuth(rng: np.random.Generator, seen_from: float, extent: np.ndarray) -> float:
    """Another side than the target's (70-180° away), but not end-on: a dumbbell seen along its bar is one ball.

    The visible width of the object's box from azimuth a is |w cos a| + |d sin a|; a view is accepted when it
    shows at least 75% of the widest one.
    """
    def width(a):
        return abs(extent[0] * math.cos(math.radians(a))) + abs(extent[2] * math.sin(math.radians(a)))
    widest = max(width(a) for a in range(0, 180, 5))
    best, best_width = seen_from, -1.0  # the first try always replaces this
    for _ in range(12):
        a = seen_from + float(rng.choice([-1, 1]) * rng.uniform(70, 180))
        if width(a) >= 0.75 * widest:
            return a
        if width(a) > best_width:
            best, best_width = a, width(a)
    return best


def _identity_image(rng: np.random.Generator, p: Placed, mesh, cam: CameraPose, size: int) -> tuple[np.ndarray, dict]:
    """The subject alone on white, seen from another side, under another light."""
    import pyrender
    from pyrender.constants import RenderFlags

    from .rooms import _light_pose

    lo, hi = build_mesh(p.identity).bounds
    centre, radius = (lo + hi) / 2, float(np.linalg.norm(hi - lo) / 2)
    q = p.pose[:3, :3].T @ (cam.position - p.pose[:3, 3])
    seen_from = math.degrees(math.atan2(q[0], q[2]))
    azimuth = _identity_azimuth(rng, seen_from, hi - lo)
    elevation = float(rng.uniform(5, 35))
    fov = 40.0
    dist = radius / math.sin(math.radians(fov) / 2) * 1.08
    a, e = math.radians(azimuth), math.radians(elevation)
    eye = centre + dist * np.array([math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)])
    tone = str(rng.choice(list(LIGHT_TONES)))
    scene = pyrender.Scene(ambient_light=np.full(3, float(rng.uniform(0.25, 0.4))), bg_color=[1.0, 1.0, 1.0, 1.0])
    scene.add(mesh)  # the target's pyrender mesh: already on the GPU
    scene.add(pyrender.PerspectiveCamera(yfov=math.radians(fov), znear=0.02, zfar=dist * 4),
              pose=look_at_pose(eye, centre))
    light_az = azimuth + float(rng.uniform(-100, 100))
    scene.add(pyrender.DirectionalLight(color=np.asarray(LIGHT_TONES[tone]), intensity=float(rng.uniform(2.5, 4.5))),
              pose=_light_pose(light_az, float(rng.uniform(25, 70))))
    colour, _ = renderer(size, size).render(scene, flags=RenderFlags.NONE)
    view = {"identity_azimuth": round(azimuth % 360, 2), "identity_elevation": round(elevation, 2),
            "target_azimuth": round(seen_from % 360, 2), "identity_light": tone}
    return colour, view


def _centre_x(s: SubjectRecord) -> float:
    if s.box2d is None:  # the generator gives every subject its box
        raise ValueError(f"subject '{s.name}' has no box2d")
    return (s.box2d[0] + s.box2d[2]) / 2


def _position_words(s: SubjectRecord, width: int) -> str:
    cx = _centre_x(s) / width
    return "on the left" if cx < 1 / 3 else "on the right" if cx > 2 / 3 else "in the middle"


def _full_prompt(background: str, subjects: list[SubjectRecord], width: int) -> str:
    order = sorted(subjects, key=_centre_x)
    parts = [f"{s.caption} {_position_words(s, width)}" for s in order]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    verb = "stands" if len(parts) == 1 else "stand"
    return f"{background[0].upper()}{background[1:]}. On the floor {verb} {listed}."


def generate(cfg: SynthConfig, index: int, root: str | Path) -> Sample:
    """Render sample `index` into `root/samples/<id>/` and return its record (not yet in index.jsonl)."""
    root = Path(root)
    sid = sample_id(index)
    rng = np.random.default_rng([cfg.seed, index, 0x5167])
    w = h = cfg.size
    room, cam = sample_room(rng), sample_camera(rng)
    n = int(rng.integers(cfg.min_subjects, cfg.max_subjects + 1))
    target = _Target(room, cam, [], w, h)
    alone: list[np.ndarray] = []
    while not target.placed:  # at least one subject survives: re-draw identities if a layout lost them all
        for p in place_subjects(rng, pick_identities(cfg, rng, n, index), cam, w, h):
            target.add(p)
        alone = _settle(rng, cfg, target, cam)
    image, depth = target.colour()
    masks = visible_masks(depth, alone)

    tmp = root / SAMPLES_DIR / f"{sid}.tmp"
    final = root / SAMPLES_DIR / sid
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_png(tmp / "image.png", image)
    save_npy(tmp / "depth.npy", depth.astype(np.float32))
    r_wc, t_wc = cam.rotation, cam.position
    fx, fy, cx, cy = intrinsics_from_fov(w, h, cam.fov)
    subjects = []
    for name, p, node, mask, solo in zip(subject_names(target.placed), target.placed, target.nodes, masks, alone):
        ident_img, view = _identity_image(rng, p, node.mesh, cam, cfg.ident_size)
        save_png(tmp / f"{name}_mask.png", (mask * 255).astype(np.uint8))
        save_png(tmp / f"{name}_identity.png", ident_img)
        centre, size, rot = p.box_world
        box = box_from_pose(r_wc.T @ (centre - t_wc), size, r_wc.T @ rot)
        amodal = int((solo > 0).sum())
        rel = f"{SAMPLES_DIR}/{sid}"
        subjects.append(SubjectRecord(
            name=name, identity=f"{rel}/{name}_identity.png", mask=f"{rel}/{name}_mask.png",
            box2d=mask_box(mask), box3d=box, caption=p.identity.caption(), identity_id=p.identity.id,
            visible_fraction=round(float(mask.sum()) / amodal, 4) if amodal else 0.0,
            attributes={**p.identity.attributes(), "lying": p.lying, "yaw": round(p.yaw, 2), **view}))
    background = room.prompt()
    sample = Sample(
        id=sid, image=f"{SAMPLES_DIR}/{sid}/image.png", depth=f"{SAMPLES_DIR}/{sid}/depth.npy",
        camera=CameraRecord(fx=fx, fy=fy, cx=cx, cy=cy, width=w, height=h,
                            cam_to_world=[[float(x) for x in row] for row in cam.cam_to_world]),
        prompts=Prompts(background=background, full=_full_prompt(background, subjects, w)),
        subjects=subjects, source=f"synth:seed={cfg.seed}")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return sample
