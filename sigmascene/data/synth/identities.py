"""Procedural identities: a shape (or a composition of shapes), colours, a pattern and a finish.

An identity is a handful of stable attributes plus a seed for its proportions; its mesh is rebuilt from them
bit for bit, so the same identity looks the same in every sample and every pose, and its caption names exactly
what is visible ("a red and white polka-dot mushroom").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from .shapes import Grid, Shape, arc, box, cone, cylinder, lathe, move, rotate, sphere, torus, translate
from .textures import COLOURS, PATTERNS, contrasting, vertex_colours


@dataclass(frozen=True)
class Identity:
    id: str
    shape: str
    colour: str
    colour2: str
    pattern: str
    axis: str  # stripe direction: horizontal, vertical, diagonal
    size: float  # metres, largest extent
    finish: str  # matte, glossy
    seed: int

    @property
    def period(self) -> float:
        return self.size * (0.12 + 0.10 * ((self.seed % 97) / 96.0))

    def caption(self) -> str:
        noun = SHAPES[self.shape].noun
        finish = "glossy " if self.finish == "glossy" else ""
        if self.pattern == "plain":
            return f"{_article(finish or self.colour)} {finish}{self.colour} {noun}"
        return (f"{_article(finish or self.colour)} {finish}{self.colour} and {self.colour2} "
                f"{PATTERNS[self.pattern]} {noun}")

    def attributes(self) -> dict:
        d = asdict(self)
        d.pop("id")
        return d


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


@dataclass(frozen=True, eq=False)
class ObjectMesh:
    """Render-ready geometry in the object's frame (resting on y = 0, centred on x = z = 0) and its texture."""

    positions: np.ndarray  # Nx3 float32
    normals: np.ndarray  # Nx3 float32
    uvs: np.ndarray  # Nx2 float32, into `texture`
    faces: np.ndarray  # Mx3 uint32
    texture: np.ndarray  # HxWx3 uint8 atlas: one tile per grid
    roughness: float
    bounds: np.ndarray  # 2x3 float64, (min, max) corner in the object frame


# -- shapes ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShapeKind:
    noun: str
    size: tuple[float, float]  # range of the largest extent, metres
    build: Callable[[np.random.Generator], Shape]
    can_lie: bool = False  # may be laid on its side in a scene


def _legs(w: float, d: float, h: float, t: float) -> Shape:
    return [g for sx in (-1, 1) for sz in (-1, 1) for g in box(t, h, t, sx * (w / 2 - t / 2), 0, sz * (d / 2 - t / 2))]


def _b_box(g):
    return box(g.uniform(0.6, 1.4), 1.0, g.uniform(0.6, 1.4))


def _b_ball(g):
    return sphere(0.5, 0.5)


def _b_cylinder(g):
    return cylinder(g.uniform(0.2, 0.4), 1.0)


def _b_cone(g):
    return cone(g.uniform(0.25, 0.45), 1.0)


def _b_pyramid(g):
    return move(cone(g.uniform(0.5, 0.7), 1.0, sections=4), rotate("y", 45))


def _b_capsule(g):
    r = g.uniform(0.2, 0.3)
    prof = arc(0, r, r, -90, 0, 8) + arc(0, 1 - r, r, 0, 90, 8)
    return lathe(prof, 32, creases=False)


def _b_donut(g):
    minor = g.uniform(0.12, 0.2)
    return torus(0.5 - minor, minor)


def _b_mushroom(g):
    r = g.uniform(0.1, 0.16)
    cap = g.uniform(0.4, 0.5)
    return cylinder(r, 0.55, role="cream") + lathe(arc(0, 0.55, cap, -90, 90, 14, squash=0.6), 32, creases=False)


def _b_snowman(g):
    nose = move(cone(0.035, 0.16, role="orange", sections=12), translate(0, 1.12, 0.13) @ rotate("x", 90))
    return sphere(0.3, 0.3) + sphere(0.22, 0.78) + sphere(0.15, 1.1) + nose


def _b_table(g):
    w, d, h = g.uniform(0.9, 1.1), g.uniform(0.5, 0.8), g.uniform(0.6, 0.8)
    return box(w, 0.06, d, y0=h - 0.06) + _legs(w, d, h - 0.06, 0.06)


def _b_chair(g):
    w, h = g.uniform(0.45, 0.55), g.uniform(0.42, 0.5)
    return box(w, 0.06, w, y0=h - 0.06) + box(w, 0.5, 0.06, y0=h, z=-(w / 2 - 0.03)) + _legs(w, w, h - 0.06, 0.05)


def _b_lamp(g):
    pole = g.uniform(0.8, 1.1)
    return (cylinder(0.18, 0.05, role="grey") + cylinder(0.02, pole, 0.05, role="grey", sections=12)
            + cone(g.uniform(0.22, 0.3), 0.4, pole - 0.05, top_radius=0.08))


def _b_tree(g):
    trunk = g.uniform(0.25, 0.4)
    return cylinder(0.07, trunk, role="brown", sections=16) + cone(g.uniform(0.3, 0.45), 1.1 - trunk, trunk - 0.1)


def _b_mug(g):
    r = g.uniform(0.28, 0.35)
    handle = move(torus(0.18, 0.05, sections=24), translate(r, 0.42, 0) @ rotate("x", 90) @ translate(0, -0.05, 0))
    return cylinder(r, 0.8) + handle


def _b_house(g):
    w, d, h = g.uniform(0.7, 0.9), g.uniform(0.6, 0.8), g.uniform(0.5, 0.65)
    roof = move(cone(max(w, d) * 0.75, 1.0 - h, h, role=str(g.choice(["brown", "red", "grey"])), sections=4),
                rotate("y", 45))
    return box(w, h, d) + roof


def _b_bottle(g):
    r = g.uniform(0.16, 0.22)
    body = lathe([(0, 0), (r, 0), (r, 0.6), (0.06, 0.8), (0.06, 0.94), (0, 0.94)], 32)
    return body + cylinder(0.07, 0.08, 0.92, role="black", sections=16)


def _b_dumbbell(g):
    bar = move(cylinder(0.035, 0.8, -0.4, role="grey", sections=12), translate(0, 0.2, 0) @ rotate("z", 90))
    return bar + move(sphere(0.2, 0.2), translate(-0.4)) + move(sphere(0.2, 0.2), translate(0.4))


SHAPES: dict[str, ShapeKind] = {
    "box": ShapeKind("box", (0.35, 0.7), _b_box, can_lie=False),
    "ball": ShapeKind("ball", (0.3, 0.6), _b_ball),
    "cylinder": ShapeKind("cylinder", (0.4, 0.9), _b_cylinder, can_lie=True),
    "cone": ShapeKind("cone", (0.4, 0.9), _b_cone, can_lie=True),
    "pyramid": ShapeKind("pyramid", (0.4, 0.8), _b_pyramid),
    "capsule": ShapeKind("capsule", (0.4, 0.8), _b_capsule, can_lie=True),
    "donut": ShapeKind("donut", (0.5, 0.8), _b_donut),
    "mushroom": ShapeKind("mushroom", (0.4, 0.8), _b_mushroom),
    "snowman": ShapeKind("snowman", (0.7, 1.1), _b_snowman),
    "table": ShapeKind("table", (0.8, 1.1), _b_table),
    "chair": ShapeKind("chair", (0.8, 1.0), _b_chair),
    "lamp": ShapeKind("floor lamp", (1.0, 1.5), _b_lamp),
    "tree": ShapeKind("tree", (0.8, 1.4), _b_tree),
    "mug": ShapeKind("mug", (0.35, 0.6), _b_mug),
    "house": ShapeKind("toy house", (0.5, 0.9), _b_house),
    "bottle": ShapeKind("bottle", (0.4, 0.8), _b_bottle, can_lie=True),
    "dumbbell": ShapeKind("dumbbell", (0.6, 0.9), _b_dumbbell),
}


def sample_identity(rng: np.random.Generator, ident: str) -> Identity:
    shape = str(rng.choice(list(SHAPES)))
    colour = str(rng.choice(list(COLOURS)))
    pattern = str(rng.choice(list(PATTERNS), p=[0.3, 0.2, 0.15, 0.15, 0.2]))
    lo, hi = SHAPES[shape].size
    colour2 = contrasting(rng, colour) if pattern != "plain" else colour
    return Identity(id=ident, shape=shape, colour=colour, colour2=colour2,
                    pattern=pattern, axis=str(rng.choice(["horizontal", "vertical", "diagonal"])),
                    size=round(float(rng.uniform(lo, hi)), 3),
                    finish=str(rng.choice(["matte", "glossy"], p=[0.7, 0.3])),
                    seed=int(rng.integers(2**31)))


def _tile_shape(grid: Grid, role: str, period: float) -> tuple[int, int]:
    """Texels (rows, cols) for a grid: ~10 per pattern period, a token 4x4 for flat colours."""
    if role != "main":
        return 4, 4
    along_r, along_c = grid.size()
    rows, cols = (int(np.clip(math.ceil(length / period * 10), 4, 256)) for length in (along_r, along_c))
    return rows, cols


def _pack(shapes: list[tuple[int, int]], max_w: int = 512) -> tuple[list[tuple[int, int]], int, int]:
    """Shelf packing of tiles into an atlas: returns each tile's (row, col) origin and the atlas size."""
    order = sorted(range(len(shapes)), key=lambda k: -shapes[k][0])
    origins: list[tuple[int, int]] = [(0, 0)] * len(shapes)
    x = y = shelf = width = 0
    for k in order:
        h, w = shapes[k]
        if x + w > max_w and x > 0:
            y, x, shelf = y + shelf, 0, 0
        origins[k] = (y, x)
        x += w
        shelf = max(shelf, h)
        width = max(width, x)
    return origins, y + shelf, width


def _bilinear(p: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Resample a grid's lattice at rows x cols texel centres spanning it corner to corner."""
    R, C = p.shape[0] - 1, p.shape[1] - 1
    a = np.linspace(0, R, rows) if R else np.zeros(rows)
    b = np.linspace(0, C, cols) if C else np.zeros(cols)
    i0 = np.clip(np.floor(a).astype(int), 0, max(R - 1, 0))
    j0 = np.clip(np.floor(b).astype(int), 0, max(C - 1, 0))
    fa, fb = (a - i0)[:, None, None], (b - j0)[None, :, None]
    i1, j1 = np.minimum(i0 + 1, R), np.minimum(j0 + 1, C)
    top = p[i0][:, j0] * (1 - fb) + p[i0][:, j1] * fb
    bot = p[i1][:, j0] * (1 - fb) + p[i1][:, j1] * fb
    return top * (1 - fa) + bot * fa


@lru_cache(maxsize=256)
def build_mesh(ident: Identity) -> ObjectMesh:
    """The identity's geometry with its solid pattern baked into a texture atlas; cached (pool identities recur).

    The pattern is evaluated at 3D points of the object frame, so it continues across grid seams and looks the
    same from every side: the same identity in every pose.
    """
    grids = SHAPES[ident.shape].build(np.random.default_rng(ident.seed))
    lo = np.min([g.p.reshape(-1, 3).min(axis=0) for g in grids], axis=0)
    hi = np.max([g.p.reshape(-1, 3).max(axis=0) for g in grids], axis=0)
    scale = ident.size / float(np.max(hi - lo))
    shift = np.array([-(lo[0] + hi[0]) / 2, -lo[1], -(lo[2] + hi[2]) / 2])
    grids = [Grid((g.p + shift) * scale, g.n, g.role) for g in grids]
    period = ident.period
    tiles = [_tile_shape(g, g.role, period) for g in grids]
    origins, height, width = _pack(tiles)
    width = -(-width // 4) * 4  # RGB rows must be 4-byte aligned: pyrender uploads with GL's default alignment
    atlas = np.zeros((height, width, 3), dtype=np.float32)
    pos, nrm, uvs, faces, base = [], [], [], [], 0
    for g, (th, tw), (oy, ox) in zip(grids, tiles, origins):
        if g.role == "main":
            pts = _bilinear(g.p, th, tw).reshape(-1, 3)
            rgba = vertex_colours(pts, ident.colour, ident.colour2, ident.pattern, period, ident.axis, ident.seed)
            atlas[oy:oy + th, ox:ox + tw] = rgba[:, :3].reshape(th, tw, 3)
        else:
            atlas[oy:oy + th, ox:ox + tw] = COLOURS[g.role]
        R, C = g.p.shape[0] - 1, g.p.shape[1] - 1
        ii, jj = np.meshgrid(np.arange(R + 1), np.arange(C + 1), indexing="ij")
        # texel centres: row oy + 0.5 .. oy + th - 0.5; pyrender flips images on upload, so v runs bottom-up
        u = (ox + 0.5 + jj / max(C, 1) * (tw - 1)) / width
        v = 1.0 - (oy + 0.5 + ii / max(R, 1) * (th - 1)) / height
        pos.append(g.p.reshape(-1, 3))
        nrm.append(g.n.reshape(-1, 3))
        uvs.append(np.stack([u, v], axis=-1).reshape(-1, 2))
        k = (ii[:-1, :-1] * (C + 1) + jj[:-1, :-1]).ravel() + base
        quads = np.stack([k, k + C + 1, k + C + 2, k + 1], axis=1)
        faces.append(np.vstack([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]]))
        base += (R + 1) * (C + 1)
    positions, normals, tri = np.vstack(pos), np.vstack(nrm), np.vstack(faces)
    # Wind every triangle counter-clockwise seen from outside: pyrender culls back faces in its depth-only pass
    # (which the masks come from) even for double-sided materials.
    geo = np.cross(positions[tri[:, 1]] - positions[tri[:, 0]], positions[tri[:, 2]] - positions[tri[:, 0]])
    inward = (geo * normals[tri].sum(axis=1)).sum(axis=1) < 0
    tri[inward] = tri[inward][:, [0, 2, 1]]
    positions = positions.astype(np.float32)
    return ObjectMesh(positions=positions, normals=normals.astype(np.float32),
                      uvs=np.vstack(uvs).astype(np.float32), faces=tri.astype(np.uint32),
                      texture=(np.clip(atlas, 0, 1) * 255).astype(np.uint8),
                      roughness=0.3 if ident.finish == "glossy" else 0.85,
                      bounds=np.stack([positions.min(axis=0), positions.max(axis=0)]).astype(np.float64))
