"""The one training configuration: a pydantic model read from TOML, overridable with `--set`, saved with the run.

One typed object (not a dict passed around) so a misspelt key or a bad value fails before any model loads, with
the line of the TOML file it came from. `default_toml()` writes every field with its documentation, so
`sigmascene train --init cfg.toml` is also the reference of what can be set (reading and writing the file:
config_file.py). Relative paths resolve against the
config file's folder, so a config travels with its dataset. `config_hash()` covers only what changes the trained
weights; logging intervals and folders may change between a run and its resumption.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..data import STRUCTURES  # the dataset tools' structure modes: the trainer draws among them
from .curriculum import PAPER_STAGES, Stage
from .toml_text import render_toml

#: The attention and MLP projections of both Flux block kinds (a full match against module names). The final
#: `proj_out` of the transformer is left out: it maps to latent channels, not a projection inside a block.
DEFAULT_TARGET = (r"(transformer_blocks|single_transformer_blocks)\.\d+\.("
                  r"attn\.(to_q|to_k|to_v|to_out\.0|add_q_proj|add_k_proj|add_v_proj|to_add_out)"
                  r"|ff\.net\.(0\.proj|2)|ff_context\.net\.(0\.proj|2)|proj_mlp|proj_out)")


#: Seeds reach np.random.seed(seed + rank), which takes 0..2**32-1: a larger or negative one crashed mid-start.
MAX_SEED = 2**31 - 1


class _Section(BaseModel):
    # nan/inf are refused: an lr or alpha of inf trained NaN weights and still exited 0
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class RunConfig(_Section):
    dir: str = Field("runs/sigma", description="Run folder (checkpoints, logs, validation grids, final LoRA); "
                                               "relative to this file.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seeds sampling, augmentation, noise and timesteps "
                                     "(one stream per step and rank).")
    log_every: int = Field(10, ge=1, description="Steps between TensorBoard scalars.")
    checkpoint_every: int = Field(500, ge=1, description="Steps between checkpoints (also one at every stage end "
                                                        "and at the end).")
    keep_checkpoints: int = Field(3, ge=1, description="Checkpoints kept; older ones are deleted after a save.")
    validate_every: int = Field(1000, ge=0, description="Steps between validation grids; 0 = never.")


class ModelConfig(_Section):
    base: str = Field("", description="Local diffusers Flux.1 Kontext [dev] folder; \"tiny\" = the tiny random-weight "
                                      "stack (tests, CPU); \"\" = SIGMASCENE_BASE or the user config file.")
    tiny_seed: int = Field(0, ge=0, le=MAX_SEED, description="Weights seed of the tiny stack (base = \"tiny\").")
    weight_dtype: Literal["bf16", "fp16", "fp32"] = Field("bf16", description="dtype of the frozen base weights "
                                                                              "(LoRA weights stay fp32).")
    mixed_precision: Literal["bf16", "fp16", "no"] = Field("bf16", description="autocast dtype of the forward pass.")
    gradient_checkpointing: bool = Field(True, description="Recompute each transformer block in backward: "
                                                           "far less memory, ~30 % more time.")
    guidance: float = Field(1.0, description="Guidance value fed to the guidance-distilled transformer in training.")
    max_sequence_length: int = Field(512, ge=1, le=512, description="T5 tokens of the prompt.")


class LoraConfig(_Section):
    rank: int = Field(128, ge=1, le=4096, description="LoRA rank (paper: 128).")
    alpha: float = Field(128.0, gt=0, description="LoRA alpha (paper: 128).")
    target: str = Field(DEFAULT_TARGET, description="Regex, full match against module names, of the Linear layers "
                                                    "to adapt.")
    dropout: float = Field(0.0, ge=0, lt=1, description="LoRA dropout.")
    init: str = Field("", description="A SIGMA LoRA .safetensors to start from instead of a fresh one (same rank "
                                      "and layers): continue a finished LoRA with another curriculum or data.")
    condition_mask: bool = Field(False, description="Train with the condition attention mask (conditions attend only "
                                                    "to conditions), which lets inference cache their K/V; "
                                                    "recorded in the LoRA metadata.")


class StructureProbs(_Section):
    mask_depth: float = Field(1 / 3, ge=0, description="(i) precise mask + depth map.")
    box3d_depth: float = Field(1 / 3, ge=0, description="(ii) 3D box + its rendered depth.")
    box2d: float = Field(1 / 3, ge=0, description="(iii) 2D box, no depth.")

    @model_validator(mode="after")
    def _some(self) -> "StructureProbs":
        if self.mask_depth + self.box3d_depth + self.box2d <= 0:
            raise ValueError("at least one structure probability must be positive")
        return self

    def normalised(self) -> dict[str, float]:
        total = self.mask_depth + self.box3d_depth + self.box2d
        return {k: getattr(self, k) / total for k in STRUCTURES}


class DataConfig(_Section):
    root: str = Field("data/sigma-set", description="Dataset folder holding index.jsonl; relative to this file.")
    resolution: int = Field(0, ge=0, description="Longest canvas side in pixels (multiple of 16); 0 = each "
                                                 "sample's own size.")
    identity_size: int = Field(0, ge=0, description="Side of one identity block in pixels (multiple of 16); "
                                                    "0 = half the canvas, the compiler's default.")
    structure: StructureProbs = Field(default_factory=StructureProbs,
                                      description="Probability of each structure mode (normalised).")
    dilation_prob: float = Field(0.5, ge=0, le=1, description="Chance that a precise mask is dilated.")
    max_dilation: int = Field(6, ge=0, description="Largest dilation radius in pixels (uniform in 1..max).")
    box_jitter: float = Field(0.01, ge=0, lt=0.5, description="Box aspect-ratio jitter: the ratio is scaled by "
                                                              "a factor uniform in [1 - j, 1 + j].")
    full_prompt_prob: float = Field(0.5, ge=0, le=1, description="Chance of `Place these subjects to compose: "
                                                                 "<full>` over `... in <background>`.")


class OptimConfig(_Section):
    optimizer: Literal["prodigy", "adamw"] = Field("prodigy", description="Prodigy (paper) or AdamW.")
    lr: float = Field(1.0, gt=0, description="Learning rate (Prodigy: 1.0, it estimates the step size itself).")
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = Field((0.9, 0.99))
    use_bias_correction: bool = Field(False, description="Prodigy option (its default); slows d's early growth.")
    safeguard_warmup: bool = Field(False, description="Prodigy option (its default); set true with warmup_steps.")
    d_coef: float = Field(1.0, gt=0, description="Prodigy's multiplier on its step-size estimate d.")
    warmup_steps: int = Field(0, ge=0, description="Linear learning-rate warmup steps.")
    decay: Literal["constant", "linear", "cosine"] = Field(
        "constant", description="Learning rate after the warmup: constant (paper: Prodigy sets it), or a linear "
                                "or cosine decay to 0 at the last step (a cool-down, e.g. when continuing with "
                                "lora.init).")
    grad_accum: int = Field(1, ge=1, description="Samples per process per optimizer step (subject counts differ, "
                                                 "so each forward holds one sample).")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping; 0 = off.")


class LossConfig(_Section):
    timesteps: Literal["flux", "logit_normal", "uniform"] = Field(
        "flux", description="flux: logit-normal then Flux's resolution-dependent shift; logit_normal: no shift; "
                            "uniform: U(0, 1).")
    logit_mean: float = Field(0.0)
    logit_std: float = Field(1.0, gt=0)
    subject_weight: float = Field(1.0, ge=1.0, description="Loss weight of X tokens covered by subjects (background "
                                                           "1); 1 = Flux's plain MSE, the paper's recipe. Raise "
                                                           "it for small canvases, where subjects are a few tokens.")


class CurriculumConfig(_Section):
    stages: list[Stage] = Field(default_factory=lambda: [s.model_copy() for s in PAPER_STAGES],
                                description="Stages in order: steps and the subject counts they sample.")

    @model_validator(mode="after")
    def _nonempty(self) -> "CurriculumConfig":
        if not self.stages:
            raise ValueError("the curriculum needs at least one stage")
        return self


class ValidationConfig(_Section):
    scenes: list[str] = Field(default_factory=list, description="`.sigma` files rendered every validate_every "
                                                                "steps; empty = the first `samples` dataset samples.")
    samples: int = Field(4, ge=1, description="Dataset samples used when `scenes` is empty.")
    steps: int = Field(20, ge=1, description="Denoising steps of a validation render.")
    seed: int = Field(0, ge=0, le=MAX_SEED)


class CacheConfig(_Section):
    dir: str = Field("", description="Latent/text-embedding cache keyed by content hash; \"\" = <run dir>/cache.")
    latents: bool = Field(True, description="Cache VAE latents of targets, identity and control maps.")
    text: bool = Field(True, description="Cache prompt embeddings (then the text encoders are freed).")


class TrainConfig(_Section):
    run: RunConfig = Field(default_factory=RunConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    curriculum: CurriculumConfig = Field(default_factory=CurriculumConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)

    # Folder that relative paths resolve against (the config file's); not part of the file.
    base_dir: Optional[str] = Field(None, exclude=True)
    # Where the settings came from (the TOML file and its `--set` overrides, key -> "KEY=VALUE"): kept so a
    # setting found wrong later (data.root without index.jsonl) can still be reported at its line.
    source_file: Optional[str] = Field(None, exclude=True)
    source_sets: dict[str, str] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="after")
    def _multiples(self) -> "TrainConfig":
        for name, v in (("data.resolution", self.data.resolution), ("data.identity_size", self.data.identity_size)):
            if v % 16:
                raise ValueError(f"{name} must be a multiple of 16 pixels (or 0), got {v}")
        try:
            re.compile(self.lora.target)
        except re.error as err:
            raise ValueError(f"lora.target is not a valid regex: {err}") from None
        return self

    # -- paths -----------------------------------------------------------------------------------------------
    def path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() or self.base_dir is None else Path(self.base_dir) / p

    @property
    def run_dir(self) -> Path:
        return self.path(self.run.dir)

    @property
    def data_root(self) -> Path:
        return self.path(self.data.root)

    @property
    def lora_init(self) -> Optional[Path]:
        return self.path(self.lora.init) if self.lora.init else None

    @property
    def cache_dir(self) -> Path:
        return self.path(self.cache.dir) if self.cache.dir else self.run_dir / "cache"

    @property
    def total_steps(self) -> int:
        return sum(s.steps for s in self.curriculum.stages)

    def resolved(self) -> "TrainConfig":
        """A copy whose paths are absolute, so the run folder's `config.toml` means the same wherever it is read
        from: relative paths there would resolve against the run folder, not the folder of the original config."""
        cfg = self.model_copy(deep=True)
        cfg.run.dir = str(self.run_dir.absolute())
        cfg.data.root = str(self.data_root.absolute())
        if self.lora.init:
            cfg.lora.init = str(self.path(self.lora.init).absolute())
        if self.cache.dir:
            cfg.cache.dir = str(self.path(self.cache.dir).absolute())
        base = self.model.base.strip()
        if base and base != "tiny":
            cfg.model.base = str(self.path(base).absolute())
        cfg.validation.scenes = [str(self.path(s).absolute()) for s in self.validation.scenes]
        cfg.base_dir = None
        return cfg

    # -- identity --------------------------------------------------------------------------------------------
    def config_hash(self) -> str:
        """sha256 (16 hex) of everything that changes the trained weights: not folders, intervals or validation.
        Paths count as resolved, so the run folder's absolute copy hashes like the relative original."""
        return self._hash(self.resolved())

    def legacy_config_hash(self) -> str:
        """The hash as runs before absolute run-folder configs wrote it (paths as written), so they still resume."""
        return self._hash(self)

    @staticmethod
    def _hash(cfg: "TrainConfig") -> str:
        d = cfg.model_dump(mode="json", exclude={"run": {"dir", "log_every", "checkpoint_every",
                                                         "keep_checkpoints", "validate_every"},
                                                 "validation": True, "cache": True})
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def to_toml(self) -> str:
        return render_toml(self, documented=False)
