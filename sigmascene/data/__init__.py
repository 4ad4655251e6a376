"""Training data: the dataset format (index.jsonl), the synthetic world, validation, box fitting, importing.

The trainer codes against three names here: `load_dataset(root) -> list[Sample]`, the `Sample` record, and
`sample_to_scene(sample, root, structure) -> Scene`. Heavy parts (pyrender, open3d) load only when used.
"""

from __future__ import annotations

from .io import load_dataset
from .schema import Box3DRecord, CameraRecord, Prompts, Sample, SubjectRecord
from .to_scene import STRUCTURES, sample_to_scene

__all__ = ["Box3DRecord", "CameraRecord", "Prompts", "STRUCTURES", "Sample", "SubjectRecord", "load_dataset",
           "sample_to_scene"]
