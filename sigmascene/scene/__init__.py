"""The scene IR: one package for the node base (node.py), values from Python (values.py), the placement kinds
(kinds/, one module per kind), the Scene itself (ir.py), the builder helpers (builder.py) and prompt text
(prompts.py).

Every stage consumes a Scene; the names below are the IR's public face, re-exported from ir.py. Placement node
classes (`Box2D`, ...) are exported from the kind registry; library code imports a node it names from its own
kind module (`scene.kinds.box3d`), so static checkers see it."""

from .ir import (MAX_CANVAS, MAX_COORD, MAX_DEPTH, MAX_SCALE, MAX_SEED, MAX_SIZE, MAX_SUBJECTS, MENTION_RE, MIN_DEPTH,
                 MIN_SCALE, MIN_SEED, MIN_SIZE, NAME_RE, PLACEMENT_KINDS, ROUTING_STEP, SUPPORTED_VERSIONS,
                 TOKEN_PIXELS, Angle, Background, Camera, Canvas, Coord, Include, Node, Param, ParamRef, Placement,
                 Relation, Scene, Subject, Vec3, build, photo_canvas, python_error, remember_params, seed_problem)
from .kinds import KINDS, NODES, PlacementKind, PlacementNode, kind_of
from .kinds.box3d import positive_size

globals().update(NODES)

__all__ = [
    "KINDS", "MAX_CANVAS", "MAX_COORD", "MAX_DEPTH", "MAX_SCALE", "MAX_SEED", "MAX_SIZE", "MAX_SUBJECTS",
    "MENTION_RE", "MIN_DEPTH", "MIN_SCALE", "MIN_SEED", "MIN_SIZE", "NAME_RE", "PLACEMENT_KINDS", "ROUTING_STEP",
    "SUPPORTED_VERSIONS", "TOKEN_PIXELS", "Angle", "Background", "Camera", "Canvas", "Coord", "Include", "Node",
    "Param", "ParamRef", "Placement", "PlacementKind", "PlacementNode", "Relation", "Scene", "Subject", "Vec3",
    "build", "kind_of", "photo_canvas", "positive_size", "python_error", "remember_params", "seed_problem",
]
__all__ += list(NODES)  # the placement nodes, from the registry
