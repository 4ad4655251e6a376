"""One line of `index.jsonl`: the typed record the synthesizer writes and the trainer, validator and importer read.

Conventions are fixed here once so that every producer (synthetic world, importer, box fitter) and every consumer
(trainer, compiler via `sample_to_scene`, validator) agree without guessing:

* Paths are relative to the dataset folder (the one holding `index.jsonl`), written with `/`; absolute paths work.
* `box2d` is in PIXELS of the target image, `(x0, y0, x1, y1)` with pixel edges: a mask whose leftmost column is 12
  and rightmost column is 40 has x0 = 12, x1 = 41. Divide by width/height for the Scene's canvas fractions.
  Pixels were chosen over fractions because the validator compares boxes with masks pixel by pixel.
* `box3d` is in CAMERA coordinates, OpenGL convention (x right, y up, the camera looks down -z), metres; angles in
  degrees with the Scene's convention (R = Ry(yaw) · Rx(pitch) · Rz(roll)), so a Scene whose camera sits at the
  origin with `look_at` None reproduces it exactly.
* Depth maps are `.npy` float32 arrays of z-depth in metres (distance along the viewing axis, not along the ray),
  shaped (height, width); 0 marks "no surface / unknown".
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, field_validator, model_validator

from ..scene.kinds.box3d import positive_size

FORMAT_VERSION = 1
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Vec3 = tuple[FiniteFloat, FiniteFloat, FiniteFloat]


class _Record(BaseModel):
    # extra="forbid" so a misspelt key ("captoin") is reported by `data validate` instead of silently dropped.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Box3DRecord(_Record):
    """An oriented box in camera coordinates (see module docstring)."""

    center: Vec3
    size: Vec3
    yaw: FiniteFloat = 0.0
    pitch: FiniteFloat = 0.0
    roll: FiniteFloat = 0.0

    _positive = field_validator("size")(positive_size)


class CameraRecord(_Record):
    """Pinhole intrinsics in pixels (pixel (i, j) has its centre at (i + 0.5, j + 0.5)) and optional extrinsics."""

    fx: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    fy: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    cx: FiniteFloat
    cy: FiniteFloat
    width: Annotated[int, Field(gt=0)]
    height: Annotated[int, Field(gt=0)]
    # 4x4 row-major camera-to-world matrix (OpenGL camera axes, world y up); None when unknown.
    cam_to_world: Optional[list[list[FiniteFloat]]] = None
    # True when intrinsics were assumed (importer's --fov) rather than measured; box3d from them is approximate.
    estimated: bool = False

    @field_validator("cam_to_world")
    @classmethod
    def _four_by_four(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        if v is None:
            return v
        if len(v) != 4 or any(len(row) != 4 for row in v):
            raise ValueError("cam_to_world must be a 4x4 matrix (list of 4 rows of 4 numbers)")
        if [round(x, 6) for x in v[3]] != [0.0, 0.0, 0.0, 1.0]:
            raise ValueError("cam_to_world's last row must be (0, 0, 0, 1)")
        return v

    @property
    def vertical_fov(self) -> float:
        """Vertical field of view in degrees, what a Scene camera's `fov` means."""
        return math.degrees(2.0 * math.atan(self.height / (2.0 * self.fy)))


class Prompts(_Record):
    background: str = ""  # "Place these subjects in <background>"
    full: str = ""  # "Place these subjects to compose: <full>"


class SubjectRecord(_Record):
    name: str
    identity: str  # image of the same subject in a different pose/lighting, plain background
    mask: Optional[str] = None  # PNG, non-zero = the VISIBLE part of the subject in the target image
    box2d: Optional[tuple[FiniteFloat, FiniteFloat, FiniteFloat, FiniteFloat]] = None  # pixels, edges
    box3d: Optional[Box3DRecord] = None
    caption: str = ""
    identity_id: Optional[str] = None  # same id = same identity (lets `data stats` count reuse)
    # visible pixels / pixels the subject would cover with nothing in front of it (frame truncation not counted)
    visible_fraction: Optional[Annotated[float, Field(ge=0.0, le=1.0)]] = None
    # free-form descriptive attributes (shape, colours, pattern, poses); never needed by the trainer
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(f"subject name {v!r} must be an identifier (letters, digits, _), as in a .sigma file")
        return v

    @field_validator("box2d")
    @classmethod
    def _ordered(cls, v: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        if v is not None and not (v[0] < v[2] and v[1] < v[3]):
            raise ValueError("box2d is (x0, y0, x1, y1) in pixels with x0 < x1 and y0 < y1")
        return v


class Sample(_Record):
    id: str
    image: str
    camera: CameraRecord
    prompts: Prompts = Field(default_factory=Prompts)
    depth: Optional[str] = None
    subjects: list[SubjectRecord]
    source: str = "synth"  # "synth", "import", ... (provenance, free text)
    version: int = FORMAT_VERSION
    # 1-based line of index.jsonl this sample came from; set by the loader, never written back.
    line: Optional[int] = Field(default=None, exclude=True)

    @property
    def width(self) -> int:
        return self.camera.width

    @property
    def height(self) -> int:
        return self.camera.height

    @model_validator(mode="after")
    def _unique_names(self) -> "Sample":
        names = [s.name for s in self.subjects]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"subject names must be unique within a sample, repeated: {', '.join(dupes)}")
        return self

    def subject(self, name: str) -> SubjectRecord | None:
        return next((s for s in self.subjects if s.name == name), None)

    def to_line(self) -> str:
        """The sample as one JSON line (no newline), the exact text `index.jsonl` holds."""
        return self.model_dump_json(exclude_none=False)
