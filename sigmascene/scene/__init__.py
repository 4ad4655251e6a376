"""The scene IR: one package for the node base (node.py), values from Python (values.py), the placement nodes
(placements.py), the Scene itself (ir.py), the builder helpers (builder.py) and prompt text (prompts.py).

Every stage consumes a Scene; the names below are the IR's public face, re-exported from ir.py."""

from .ir import (MAX_CANVAS, MAX_COORD, MAX_DEPTH, MAX_SCALE, MAX_SEED, MAX_SIZE, MAX_SUBJECTS, MENTION_RE, MIN_DEPTH,
                 MIN_SCALE, MIN_SEED, MIN_SIZE, NAME_RE, PLACEMENT_KINDS, ROUTING_STEP, SUPPORTED_VERSIONS,
                 TOKEN_PIXELS, Angle, Background, Box2D, Box3D, Camera, Canvas, Coord, Include, Mask, Mesh, Node, Param,
                 ParamRef, Placement, Polygon, Relation, Scene, Subject, Vec3, build, photo_canvas, positive_size,
                 python_error, remember_params, seed_problem)

__all__ = [
    "MAX_CANVAS", "MAX_COORD", "MAX_DEPTH", "MAX_SCALE", "MAX_SEED", "MAX_SIZE", "MAX_SUBJECTS", "MENTION_RE",
    "MIN_DEPTH", "MIN_SCALE", "MIN_SEED", "MIN_SIZE", "NAME_RE", "PLACEMENT_KINDS", "ROUTING_STEP",
    "SUPPORTED_VERSIONS", "TOKEN_PIXELS", "Angle", "Background", "Box2D", "Box3D", "Camera", "Canvas", "Coord",
    "Include", "Mask", "Mesh", "Node", "Param", "ParamRef", "Placement", "Polygon", "Relation", "Scene", "Subject",
    "Vec3", "build", "photo_canvas", "positive_size", "python_error", "remember_params", "seed_problem",
]
