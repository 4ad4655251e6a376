"""Rooms, lights and cameras: the varied backgrounds the subjects stand in, and the words that describe them.

The background prompt is generated from the same choices that build the room, so "a room with a checkered
tile floor and pale blue walls, in warm lamp light" is literally true of the picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geometry import rot_x, rot_y
from .textures import FLOORS, WALLS, floor_texture, wall_texture

# The room: floor y = 0, x in [-HALF_W, HALF_W], z in [Z_BACK, Z_FRONT], ceiling at HEIGHT.
HALF_W, Z_BACK, Z_FRONT, HEIGHT = 4.0, -9.0, 3.0, 3.0

LIGHT_TONES = {"warm": (1.0, 0.82, 0.62), "neutral": (1.0, 1.0, 1.0), "cool": (0.78, 0.88, 1.0)}


@dataclass
class Light:
    kind: str  # directional | point
    colour: tuple[float, float, float]
    intensity: float
    pose: np.ndarray


@dataclass
class Room:
    floor: str
    wall: str
    striped_walls: bool
    tone: str
    ambient: float
    lights: list[Light]
    floor_image: np.ndarray
    floor_tile: float
    wall_image: np.ndarray

    def prompt(self) -> str:
        walls = f"{self.wall} striped wallpaper" if self.striped_walls else f"{self.wall} walls"
        light = {"warm": "warm lamp light", "neutral": "soft daylight", "cool": "cool bluish light"}[self.tone]
        return f"a room with a {self.floor} floor and {walls}, in {light}"


@dataclass
class CameraPose:
    cam_to_world: np.ndarray  # 4x4, OpenGL axes
    fov: float  # vertical, degrees

    @property
    def position(self) -> np.ndarray:
        return self.cam_to_world[:3, 3]

    @property
    def rotation(self) -> np.ndarray:
        return self.cam_to_world[:3, :3]


def _light_pose(azimuth: float, elevation: float, at: np.ndarray | None = None) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = rot_y(azimuth) @ rot_x(-elevation)  # directional lights shine down their -z
    if at is not None:
        pose[:3, 3] = at
    return pose


def sample_room(rng: np.random.Generator) -> Room:
    floor = str(rng.choice(FLOORS))
    wall = str(rng.choice(list(WALLS)))
    striped = bool(rng.random() < 0.25)
    tone = str(rng.choice(list(LIGHT_TONES)))
    colour = LIGHT_TONES[tone]
    lights = [Light("directional", colour, float(rng.uniform(2.0, 4.0)),
                    _light_pose(float(rng.uniform(-180, 180)), float(rng.uniform(35, 75))))]
    for _ in range(int(rng.integers(1, 3))):
        at = np.array([rng.uniform(-HALF_W + 1, HALF_W - 1), HEIGHT - 0.3, rng.uniform(Z_BACK + 2, Z_FRONT - 1)])
        lights.append(Light("point", colour, float(rng.uniform(4.0, 12.0)), _light_pose(0, 0, at)))
    image, tile = floor_texture(floor, rng)
    return Room(floor=floor, wall=wall, striped_walls=striped, tone=tone, ambient=float(rng.uniform(0.15, 0.3)),
                lights=lights, floor_image=image, floor_tile=tile, wall_image=wall_texture(wall, striped, rng))


def sample_camera(rng: np.random.Generator) -> CameraPose:
    """A person-height camera near the front of the room, looking down into it."""
    yaw, pitch = float(rng.uniform(-20, 20)), float(rng.uniform(-36, -14))
    pose = np.eye(4)
    pose[:3, :3] = rot_y(yaw) @ rot_x(pitch)
    pose[:3, 3] = (rng.uniform(-1.2, 1.2), rng.uniform(1.0, 1.9), rng.uniform(1.2, 2.4))
    return CameraPose(cam_to_world=pose, fov=float(rng.uniform(45, 62)))


def room_nodes(room: Room) -> list[tuple[object, np.ndarray]]:
    """(pyrender mesh, pose) for floor, walls and ceiling."""
    from .render import textured_quad

    w, zb, zf, h = HALF_W, Z_BACK, Z_FRONT, HEIGHT
    tile = room.floor_tile
    floor = textured_quad(np.array([[-w, 0, zf], [w, 0, zf], [w, 0, zb], [-w, 0, zb]]), room.floor_image,
                          (2 * w / tile, (zf - zb) / tile))
    def wall_rep(length):  # 1.5 m wallpaper repeat
        return (length / 1.5, h / 1.5)
    walls = [
        textured_quad(np.array([[-w, 0, zb], [w, 0, zb], [w, h, zb], [-w, h, zb]]), room.wall_image, wall_rep(2 * w)),
        textured_quad(np.array([[-w, 0, zf], [-w, 0, zb], [-w, h, zb], [-w, h, zf]]), room.wall_image,
                      wall_rep(zf - zb)),
        textured_quad(np.array([[w, 0, zb], [w, 0, zf], [w, h, zf], [w, h, zb]]), room.wall_image, wall_rep(zf - zb)),
        textured_quad(np.array([[w, 0, zf], [-w, 0, zf], [-w, h, zf], [w, h, zf]]), room.wall_image, wall_rep(2 * w)),
    ]
    ceiling_img = np.full((8, 8, 3), 235, dtype=np.uint8)
    ceiling = textured_quad(np.array([[-w, h, zb], [w, h, zb], [w, h, zf], [-w, h, zf]]), ceiling_img, (1, 1))
    return [(m, np.eye(4)) for m in [floor, *walls, ceiling]]


def pyrender_lights(lights: list[Light]) -> list[tuple[object, np.ndarray]]:
    import pyrender

    out = []
    for lt in lights:
        cls = pyrender.DirectionalLight if lt.kind == "directional" else pyrender.PointLight
        out.append((cls(color=np.asarray(lt.colour), intensity=lt.intensity), lt.pose))
    return out


def floor_point(cam: CameraPose, u: float, v: float, width: int, height: int) -> np.ndarray | None:
    """Where the ray through pixel (u, v) meets the floor, or None when it points at or above the horizon."""
    f = (height / 2.0) / math.tan(math.radians(cam.fov) / 2.0)
    d = cam.rotation @ np.array([(u - width / 2.0) / f, -(v - height / 2.0) / f, -1.0])
    if d[1] > -1e-3:
        return None
    t = -cam.position[1] / d[1]
    return cam.position + t * d
