"""Subject geometry as parametric grids: surfaces of revolution (lathes) and box faces.

Why grids and not trimesh primitives: on a software GL (llvmpipe) frame time grows with the triangle count, and
a crisp stripe drawn with vertex colours needs thousands of triangles. A grid has a natural (u, v)
parameterisation, so its pattern is baked into a texture instead and a cone needs 200 triangles, not 12 000.
Each grid knows its own lattice of points, which is what the texture baker interpolates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Grid:
    """A patch: points and normals on a (rows+1) x (cols+1) lattice, painted 'main' or an accent colour."""

    p: np.ndarray  # (R+1, C+1, 3)
    n: np.ndarray  # (R+1, C+1, 3)
    role: str

    def transformed(self, m: np.ndarray) -> "Grid":
        r = m[:3, :3]
        p = self.p @ r.T + m[:3, 3]
        n = self.n @ r.T
        return Grid(p, n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12), self.role)

    def size(self) -> tuple[float, float]:
        """(length along rows, length along columns), the larger found over the lattice: sizes the texture tile."""
        along_r = np.linalg.norm(np.diff(self.p, axis=0), axis=-1).sum(axis=0).max() if self.p.shape[0] > 1 else 0.0
        along_c = np.linalg.norm(np.diff(self.p, axis=1), axis=-1).sum(axis=1).max() if self.p.shape[1] > 1 else 0.0
        return float(along_r), float(along_c)


Shape = list[Grid]


def translate(x: float = 0.0, y: float = 0.0, z: float = 0.0) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


def rotate(axis: str, deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    m = np.eye(4)
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def move(shape: Shape, m: np.ndarray) -> Shape:
    return [g.transformed(m) for g in shape]


def _lathe_run(r: np.ndarray, y: np.ndarray, sections: int, role: str) -> Grid:
    """One smooth run of a profile (r, y), traversed counter-clockwise in the (r, y) plane, swept about +y."""
    dr, dy = np.gradient(r), np.gradient(y)
    n2 = np.stack([dy, -dr], axis=1)
    n2 /= np.maximum(np.linalg.norm(n2, axis=1, keepdims=True), 1e-12)
    th = np.linspace(0.0, 2 * math.pi, sections + 1)
    st, ct = np.sin(th)[None, :], np.cos(th)[None, :]
    p = np.stack([r[:, None] * st, np.broadcast_to(y[:, None], (len(y), sections + 1)), r[:, None] * ct], axis=-1)
    n = np.stack([n2[:, :1] * st, np.broadcast_to(n2[:, 1:2], (len(y), sections + 1)), n2[:, :1] * ct], axis=-1)
    return Grid(p, n, role)


def lathe(points: list[tuple[float, float]], sections: int = 32, role: str = "main", creases: bool = True,
          faceted: bool = False) -> Shape:
    """Sweep a polyline profile [(r, y), ...] about +y; with `creases` each segment is shaded flat along the
    profile (cylinder caps stay sharp), `faceted` makes the sweep itself flat-sided (pyramids)."""
    pts = np.asarray(points, dtype=np.float64)
    runs = [pts[i:i + 2] for i in range(len(pts) - 1)] if creases else [pts]
    out: Shape = []
    for run in runs:
        if not faceted:
            out.append(_lathe_run(run[:, 0], run[:, 1], sections, role))
            continue
        full = _lathe_run(run[:, 0], run[:, 1], sections, role)
        for j in range(sections):
            p = full.p[:, j:j + 2]
            q = p.reshape(-1, 3)
            nrm = np.cross(q[-1] - q[0], q[-2] - q[1]) if len(q) >= 4 else np.cross(q[1] - q[0], q[2] - q[0])
            if np.dot(nrm, full.n[:, j:j + 2].reshape(-1, 3).sum(axis=0)) < 0:  # keep it outward
                nrm = -nrm
            nrm /= max(np.linalg.norm(nrm), 1e-12)
            out.append(Grid(p.copy(), np.broadcast_to(nrm, p.shape).copy(), role))
    return out


def arc(cx: float, cy: float, radius: float, a0: float, a1: float, steps: int,
        squash: float = 1.0) -> list[tuple[float, float]]:
    """Points of a (possibly vertically squashed) circular arc in the profile plane, angles in degrees."""
    a = np.radians(np.linspace(a0, a1, steps + 1))
    return [(cx + radius * math.cos(t), cy + squash * radius * math.sin(t)) for t in a]


def sphere(radius: float, cy: float, squash: float = 1.0, role: str = "main", steps: int = 16,
           sections: int = 32) -> Shape:
    return lathe(arc(0, cy, radius, -90, 90, steps, squash), sections, role, creases=False)


def cylinder(radius: float, height: float, y0: float = 0.0, role: str = "main", sections: int = 32) -> Shape:
    return lathe([(0, y0), (radius, y0), (radius, y0 + height), (0, y0 + height)], sections, role)


def cone(radius: float, height: float, y0: float = 0.0, role: str = "main", sections: int = 32,
         top_radius: float = 0.0) -> Shape:
    pts = [(0, y0), (radius, y0), (top_radius, y0 + height)] + ([(0, y0 + height)] if top_radius > 0 else [])
    return lathe(pts, sections, role, faceted=sections <= 8)


def torus(major: float, minor: float, role: str = "main", sections: int = 40) -> Shape:
    """Lying flat, resting on y = 0."""
    return lathe(arc(major, minor, minor, -180, 180, 20), sections, role, creases=False)


def box(w: float, h: float, d: float, x: float = 0.0, y0: float = 0.0, z: float = 0.0, role: str = "main") -> Shape:
    hw, hd = w / 2, d / 2
    faces = {  # normal: (origin corner, edge along rows, edge along cols)
        (0, 0, 1): ((-hw, 0, hd), (0, h, 0), (w, 0, 0)),
        (0, 0, -1): ((hw, 0, -hd), (0, h, 0), (-w, 0, 0)),
        (1, 0, 0): ((hw, 0, hd), (0, h, 0), (0, 0, -d)),
        (-1, 0, 0): ((-hw, 0, -hd), (0, h, 0), (0, 0, d)),
        (0, 1, 0): ((-hw, h, hd), (0, 0, -d), (w, 0, 0)),
        (0, -1, 0): ((-hw, 0, -hd), (0, 0, d), (w, 0, 0)),
    }
    out = []
    for nrm, corner_edges in faces.items():
        o, er, ec = (np.asarray(v, dtype=np.float64) for v in corner_edges)
        p = np.array([[o, o + ec], [o + er, o + er + ec]]) + np.array([x, y0, z])
        out.append(Grid(p, np.broadcast_to(np.asarray(nrm, dtype=np.float64), p.shape).copy(), role))
    return out
