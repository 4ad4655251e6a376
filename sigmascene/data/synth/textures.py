"""Named colours and procedural patterns: solid textures for subjects, tiled images for floors and walls.

Subject patterns are evaluated in the object's own frame (solid textures), so they stick to the object: the
stripes in the identity image are the same stripes as in the target, whatever the pose. That is what makes an
identity an identity, and why a caption ("a blue and white striped cone") can name it.
"""

from __future__ import annotations

import numpy as np

# name -> linear-ish sRGB in [0, 1]; names are what captions say, so keep them plain English.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.80, 0.10, 0.10),
    "orange": (0.95, 0.50, 0.08),
    "yellow": (0.95, 0.85, 0.15),
    "lime green": (0.55, 0.85, 0.15),
    "green": (0.12, 0.55, 0.20),
    "teal": (0.05, 0.55, 0.55),
    "light blue": (0.45, 0.70, 0.95),
    "blue": (0.10, 0.25, 0.85),
    "navy": (0.05, 0.08, 0.35),
    "purple": (0.45, 0.15, 0.65),
    "pink": (0.95, 0.50, 0.70),
    "magenta": (0.85, 0.10, 0.60),
    "white": (0.93, 0.93, 0.93),
    "black": (0.06, 0.06, 0.06),
    "grey": (0.50, 0.50, 0.50),
    "brown": (0.45, 0.27, 0.12),
    "gold": (0.85, 0.65, 0.20),
    "cream": (0.95, 0.90, 0.75),
}

# pattern -> adjective used in captions
PATTERNS: dict[str, str] = {"plain": "", "stripes": "striped", "checks": "checkered", "dots": "polka-dot",
                            "noise": "speckled"}


def contrasting(rng: np.random.Generator, first: str) -> str:
    """A second colour that stays distinguishable from the first (so a pattern is visible)."""
    a = np.asarray(COLOURS[first])
    names = [n for n, c in COLOURS.items() if n != first and np.abs(np.asarray(c) - a).sum() > 0.6]
    return str(rng.choice(names))


# -- solid textures (per-vertex weights of the second colour) -----------------------------------------------------
def _value_noise(p: np.ndarray, period: float, seed: int) -> np.ndarray:
    """Smooth 3D value noise in [0, 1]: random values on a lattice, smoothstep-interpolated."""
    rng = np.random.default_rng(seed)
    lattice = rng.random((17, 17, 17))
    q = p / period
    i0 = np.floor(q).astype(np.int64)
    f = q - i0
    f = f * f * (3 - 2 * f)
    out = np.zeros(len(p))
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = (np.where(dx, f[:, 0], 1 - f[:, 0]) * np.where(dy, f[:, 1], 1 - f[:, 1])
                     * np.where(dz, f[:, 2], 1 - f[:, 2]))
                idx = (i0 + [dx, dy, dz]) % 17
                out += w * lattice[idx[:, 0], idx[:, 1], idx[:, 2]]
    return out


def pattern_weights(points: np.ndarray, pattern: str, period: float, axis: str = "horizontal",
                    seed: int = 0) -> np.ndarray:
    """Weight in [0, 1] of the second colour at each object-frame point."""
    p = np.asarray(points, dtype=np.float64)
    if pattern == "plain":
        return np.zeros(len(p))
    if pattern == "stripes":
        if axis == "vertical":
            coord = np.arctan2(p[:, 0], p[:, 2]) / (2 * np.pi) * max(6, round(6 * 0.3 / period))
            return (np.floor(coord * 2) % 2).astype(np.float64)
        coord = p[:, 1] if axis == "horizontal" else (p[:, 1] + p[:, 0]) * 0.7071
        return (np.floor(coord / period) % 2).astype(np.float64)
    if pattern == "checks":
        k = np.floor(p / period).astype(np.int64).sum(axis=1)
        return (k % 2).astype(np.float64)
    if pattern == "dots":
        q = p / period
        d = np.linalg.norm(q - np.round(q), axis=1)
        return (d < 0.32).astype(np.float64)
    if pattern == "noise":
        n = 0.65 * _value_noise(p, period, seed) + 0.35 * _value_noise(p, period / 2.3, seed + 1)
        return np.clip((n - 0.38) * 4.0, 0.0, 1.0)
    raise ValueError(f"unknown pattern {pattern!r}")


def vertex_colours(points: np.ndarray, colour: str, colour2: str, pattern: str, period: float, axis: str,
                   seed: int) -> np.ndarray:
    """Nx4 float RGBA for the vertices of a patterned part."""
    w = pattern_weights(points, pattern, period, axis, seed)[:, None]
    rgb = (1 - w) * np.asarray(COLOURS[colour]) + w * np.asarray(COLOURS[colour2])
    return np.hstack([rgb, np.ones((len(rgb), 1))]).astype(np.float32)


# -- room surfaces (tileable images, mapped with UV repeat) ---------------------------------------------------------
FLOORS = ("wooden", "checkered tile", "carpeted", "concrete", "terracotta tile")
WALLS = {"white": (0.90, 0.90, 0.88), "beige": (0.85, 0.78, 0.65), "pale blue": (0.68, 0.80, 0.90),
         "sage green": (0.65, 0.75, 0.62), "grey": (0.60, 0.60, 0.62), "pale pink": (0.92, 0.76, 0.78),
         "mustard": (0.80, 0.65, 0.25)}


def _grain(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    base = rng.random((n // 8 + 2, n // 8 + 2))
    from PIL import Image

    img = Image.fromarray((base * 255).astype(np.uint8)).resize((n, n), Image.Resampling.BICUBIC)
    return (np.asarray(img) / 255.0 - 0.5) * scale


def floor_texture(kind: str, rng: np.random.Generator, n: int = 128) -> tuple[np.ndarray, float]:
    """(uint8 HxWx3 tile, metres one tile covers) for a floor kind."""
    yy, xx = np.mgrid[0:n, 0:n] / n
    if kind == "wooden":
        tone = np.asarray([0.55, 0.36, 0.20]) * rng.uniform(0.7, 1.3)
        planks = np.floor(yy * 4)
        shade = (planks * 0.37 % 1.0 - 0.5) * 0.25
        streak = np.sin(xx * 40 + planks * 3) * 0.04 + _grain(rng, n, 0.15)
        gap = (np.abs(yy * 4 - np.round(yy * 4)) < 0.02) * -0.35
        img = tone * (1 + shade + streak + gap)[..., None]
        tile = 1.6
    elif kind == "checkered tile":
        a, b = rng.choice(list(COLOURS), size=2, replace=False)
        k = (np.floor(xx * 2) + np.floor(yy * 2)) % 2
        img = np.where(k[..., None] > 0, np.asarray(COLOURS[a]), np.asarray(COLOURS[b])) * 0.85 + 0.1
        tile = rng.uniform(0.8, 1.4)
    elif kind == "carpeted":
        tone = np.asarray(list(COLOURS.values())[rng.integers(len(COLOURS))]) * 0.6 + 0.15
        img = tone * (1 + _grain(rng, n, 0.35) + (rng.random((n, n)) - 0.5) * 0.15)[..., None]
        tile = 1.0
    elif kind == "concrete":
        g = rng.uniform(0.45, 0.7)
        img = np.full((n, n, 3), g) * (1 + _grain(rng, n, 0.3))[..., None]
        tile = 2.0
    else:  # terracotta tile
        tone = np.asarray([0.72, 0.38, 0.22]) * rng.uniform(0.85, 1.15)
        grout = (np.abs(xx * 3 - np.round(xx * 3)) < 0.03) | (np.abs(yy * 3 - np.round(yy * 3)) < 0.03)
        img = np.where(grout[..., None], 0.8, tone * (1 + _grain(rng, n, 0.2))[..., None])
        tile = 1.2
    return (np.clip(img, 0, 1) * 255).astype(np.uint8), tile


def wall_texture(colour: str, striped: bool, rng: np.random.Generator, n: int = 64) -> np.ndarray:
    base = np.asarray(WALLS[colour])
    img = np.broadcast_to(base, (n, n, 3)).copy()
    if striped:
        xx = np.mgrid[0:n, 0:n][1] / n
        img = np.where(((xx * 4) % 1.0 < 0.5)[..., None], img, img * 0.88)
    img *= (1 + _grain(rng, n, 0.06))[..., None]
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)
