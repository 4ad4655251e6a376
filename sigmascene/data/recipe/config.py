"""The build config: one pydantic model for the whole recipe, so a typo or a bad range is found before any
model is loaded. Field descriptions double as the comments of the `data build --init` file.

A stage's section (model folder, dtype, batch size, knobs) is all that decides its outputs together with the
seeds; `stage_fingerprint` hashes exactly that, which is what makes resumed outputs content-addressed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DTYPES = ("auto", "bf16", "fp16", "fp32", "fp8")
STAGE_ORDER = ("prompts", "image", "segment", "depth", "repose", "identity")


class _Section(BaseModel):
    # nan/inf are refused: a subjects weight of nan crashed numpy's choice with a traceback
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class BuildSection(_Section):
    seed: int = Field(0, ge=0, description="World seed: sample k's seeds are drawn from (seed, k), so a build is "
                                     "reproducible and any sample can be remade alone.")
    count: int = Field(100, ge=1, le=10**9, description="Samples to attempt (ids 0..count-1); `--count` overrides.")
    width: int = Field(1024, ge=16, le=4096, multiple_of=16, description="Target image width in pixels "
                                                                         "(multiple of 16).")
    height: int = Field(1024, ge=16, le=4096, multiple_of=16, description="Target image height in pixels.")
    identity_size: int = Field(512, ge=16, le=4096, multiple_of=16,
                               description="Side of the square identity images (reposed cut-outs).")
    fov: float = Field(55.0, gt=5.0, lt=170.0, description="Vertical field of view (degrees) assumed for the "
                                                           "intrinsics and 3D boxes.")
    subjects: list[float] = Field(
        default_factory=lambda: [0.16, 0.16, 0.14, 0.12, 0.1, 0.09, 0.08, 0.06, 0.05, 0.04],
        description="Subject-count distribution: weight of 1, 2, ... subjects per image (up to 10 entries).")
    shard_size: int = Field(256, ge=1, description="Samples per shard. One machine: every stage runs over a whole "
                                                   "shard before the next stage's model loads, so larger shards "
                                                   "load models less often. Ray: the unit that streams between "
                                                   "stage actors; use about count / (4 x GPUs).")
    device: str = Field("auto", description="auto (cuda when available), cpu, cuda, cuda:1, ...")
    threads: int = Field(0, ge=0, description="torch CPU threads per stage worker (0: torch's default). Fixing "
                                              "it makes CPU builds bit-identical across engines.")

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        from ...errors import SigmaError
        from ...model.loading import check_device_name

        try:
            return check_device_name(v)
        except SigmaError as err:
            raise ValueError(f"{err.diagnostics[0].message}; use one of: auto, cpu, cuda, cuda:N, mps") from None

    @model_validator(mode="after")
    def _weights(self) -> "BuildSection":
        if not 1 <= len(self.subjects) <= 10:
            raise ValueError("subjects lists the weights of 1..N subjects, N from 1 to 10")
        if any(w < 0 for w in self.subjects) or sum(self.subjects) <= 0:
            raise ValueError("subjects weights must be >= 0 with a positive sum")
        return self


class _ModelStage(_Section):
    model: str = Field("", description="Local model folder (relative paths resolve against this file).")
    dtype: Literal["auto", "bf16", "fp16", "fp32", "fp8"] = Field("auto", description="auto: bf16 on a GPU, "
                                                                  "fp32 on CPU; fp8 stores transformer weights "
                                                                  "in float8 (diffusers stages).")
    batch: int = Field(1, ge=1, le=256, description="Samples per model call.")
    num_gpus: float = Field(1.0, ge=0.0, description="GPUs per actor under Ray (fractions share a GPU).")
    workers: int = Field(1, ge=1, description="Actors of this stage under Ray.")


class PromptStage(_Section):
    kind: Literal["builtin", "llm"] = Field("builtin", description="builtin: seeded generator over the vocabulary "
                                                                   "files shipped with sigmascene; llm: a local "
                                                                   "instruct model answering JSON.")
    model: str = Field("", description="With kind = \"llm\": a local transformers text-generation folder.")
    retries: int = Field(3, ge=0, le=20, description="llm: new attempts after malformed JSON before the sample "
                                                     "is rejected.")
    max_new_tokens: int = Field(256, ge=8, le=4096, description="llm: answer length limit.")
    temperature: float = Field(0.8, gt=0.0, le=2.0, description="llm: sampling temperature.")
    dtype: Literal["auto", "bf16", "fp16", "fp32", "fp8"] = "auto"
    num_gpus: float = Field(0.0, ge=0.0, description="GPUs per actor under Ray (the builtin generator needs none).")
    workers: int = Field(1, ge=1)


class ImageStage(_ModelStage):
    steps: int = Field(28, ge=1, le=200, description="Denoising steps.")
    guidance: float = Field(3.5, ge=0.0, description="Guidance scale.")
    max_sequence_length: int = Field(256, ge=16, le=512, description="Text tokens (Flux's T5).")
    offload: Optional[Literal["model", "sequential"]] = Field(None, description="accelerate CPU offload "
                                                                                "(GPU only): model or sequential.")


class SegmentStage(_ModelStage):
    detector: str = Field("", description="Zero-shot detector folder (Grounding DINO or OWLv2).")
    model: str = Field("", description="SAM folder (box prompt -> mask).")
    box_threshold: float = Field(0.3, ge=0.0, le=1.0, description="Detection score filter: a caption's best box "
                                                                  "must score at least this.")
    min_area: float = Field(0.002, ge=0.0, le=1.0, description="Mask area filter: smallest mask, as a fraction "
                                                               "of the image.")
    max_area: float = Field(0.9, gt=0.0, le=1.0, description="Mask area filter: largest mask fraction.")
    max_overlap: float = Field(0.3, ge=0.0, le=1.0, description="Reject when two masks overlap by more than this "
                                                                "fraction of the smaller one.")


class DepthStage(_ModelStage):
    kind: Literal["auto", "relative", "metric"] = Field("auto", description="auto: read the model config "
                                                                            "(depth_estimation_type).")
    median_m: float = Field(3.0, gt=0.0, description="Relative models: the scene's median depth in metres. The "
                                                     "rule: z = median_m * median(d) / d for disparity d.")
    max_m: float = Field(50.0, gt=0.0, description="Depths beyond this become 0 (unknown).")


class ReposeStage(ImageStage):
    background: str = Field("plain light grey background", description="Appended to every instruction.")


class IdentityStage(_ModelStage):
    min_similarity: float = Field(0.5, ge=-1.0, le=1.0, description="Below: the reposed image shows another "
                                                                     "object (rejected).")
    max_similarity: float = Field(0.97, ge=-1.0, le=1.0, description="Above: not reposed, a copy (rejected).")

    @model_validator(mode="after")
    def _band(self) -> "IdentityStage":
        if self.min_similarity >= self.max_similarity:
            raise ValueError("min_similarity must be below max_similarity")
        return self


class Stages(_Section):
    prompts: PromptStage = Field(default_factory=PromptStage, description="Scene prompts.")
    image: ImageStage = Field(default_factory=lambda: ImageStage(model="models/FLUX.1-dev"),
                              description="Target image: a diffusers text-to-image folder (FluxPipeline or any "
                                          "AutoPipelineForText2Image).")
    segment: SegmentStage = Field(default_factory=lambda: SegmentStage(
        detector="models/grounding-dino-base", model="models/sam-vit-huge"),
        description="Grounded segmentation: detector boxes -> SAM masks, matched one-to-one to subjects.")
    depth: DepthStage = Field(default_factory=lambda: DepthStage(model="models/Depth-Anything-V2-Large-hf"),
                              description="Depth: a transformers depth-estimation folder.")
    repose: ReposeStage = Field(default_factory=lambda: ReposeStage(model="models/FLUX.1-Kontext-dev"),
                                description="Identity images: a diffusers FluxKontextPipeline folder.")
    identity: IdentityStage = Field(default_factory=lambda: IdentityStage(model="models/dinov2-base"),
                                    description="Identity filter: image embeddings (DINOv2 / SigLIP / CLIP).")


class BuildConfig(_Section):
    build: BuildSection = Field(default_factory=BuildSection)
    stages: Stages = Field(default_factory=Stages)
    # where relative model paths resolve (the config file's folder); not part of the file
    base_dir: Optional[str] = Field(None, exclude=True)

    def model_path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() or self.base_dir is None else Path(self.base_dir) / p

    def stage(self, name: str) -> BaseModel:
        return getattr(self.stages, name)

    def config_hash(self) -> str:
        """What decides the dataset's content: everything but the sample count and the Ray scheduling knobs."""
        d = self.model_dump()
        d["build"].pop("count")
        for section in d["stages"].values():
            section.pop("num_gpus", None)
            section.pop("workers", None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def stage_fingerprint(self, name: str, model_ids: dict[str, str]) -> str:
        """What decides a stage's outputs: its section (minus scheduling knobs), the canvas, and its models' ids."""
        section = self.stage(name).model_dump(exclude={"num_gpus", "workers"})
        b = self.build
        canvas = {"width": b.width, "height": b.height, "identity_size": b.identity_size, "fov": b.fov,
                  "subjects": b.subjects}
        blob = json.dumps({"stage": name, "section": section, "canvas": canvas, "models": model_ids},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()
