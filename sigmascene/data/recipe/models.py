"""Which model folder each stage needs, checked before any sample is made.

A folder is recognised by the file its library writes (`model_index.json` for diffusers pipelines, `config.json`
for transformers models) and by the class or `model_type` it names, so "the Kontext folder given as the
text-to-image model" is one clear error naming the stage and the path, not a shape error an hour into a build.
A model's id in the provenance is its resolved path plus the hash of that file: weights are too large to hash
on every run and are rarely edited in place.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ...errors import Diagnostic, ModelError
from .config import BuildConfig

# diffusers pipelines: text-to-image must not be an image-editing pipeline, repose must be Kontext
T2I_EXCLUDE = ("Kontext", "Img2Img", "Inpaint", "Fill", "Redux", "Controlnet", "ControlNet")
KONTEXT = ("FluxKontextPipeline",)
DETECTORS = ("grounding-dino", "owlv2", "owlvit", "mm-grounding-dino", "llmdet")
SEGMENTERS = ("sam", "sam2", "sam_hq", "edgetam")
DEPTHS = ("depth_anything", "dpt", "zoedepth", "depth_pro", "glpn", "prompt_depth_anything")
EMBEDDERS = ("dinov2", "dinov2_with_registers", "dinov3_vit", "siglip", "siglip2", "clip", "dino", "vit")


@dataclass(frozen=True)
class ModelRef:
    stage: str
    role: str  # what the folder is for ("text-to-image", "detector", ...)
    path: Path
    kind: str  # the class / model_type found there
    config_hash: str

    @property
    def id(self) -> str:
        return f"{self.path}#{self.config_hash}"

    def record(self) -> dict:
        return {"path": str(self.path), "kind": self.kind, "config_hash": self.config_hash}


def _t2i_classes() -> set[str]:
    """Pipelines `AutoPipelineForText2Image` can load (what the image stage loads through)."""
    from diffusers.pipelines.auto_pipeline import AUTO_TEXT2IMAGE_PIPELINES_MAPPING

    return {c.__name__ for c in AUTO_TEXT2IMAGE_PIPELINES_MAPPING.values()}


def _read(path: Path, name: str) -> tuple[dict, str] | None:
    f = path / name
    if not f.is_file():
        return None
    raw = f.read_bytes()
    try:
        info = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(info, dict):  # `[1, 2]` is JSON but names no class: not a folder this stage can use
        return None
    return info, hashlib.sha256(raw).hexdigest()[:16]


def check_folder(stage: str, role: str, value: str, cfg: BuildConfig) -> ModelRef | Diagnostic:
    """The folder's ModelRef, or the Diagnostic that says why it cannot serve `role` in `stage`."""
    where = f"stages.{stage}"
    if not value:
        return Diagnostic(f"{where}: no {role} model folder given", hint=f"set the folder in [{where}]")
    path = cfg.model_path(value).resolve()
    if not path.is_dir():
        return Diagnostic(f"{where}: {role} model folder {path} does not exist",
                          hint="models are read from local folders only; download or copy it there first")
    if role in ("text-to-image", "repose"):
        found = _read(path, "model_index.json")
        if found is None:
            return Diagnostic(f"{where}: {path} is not a diffusers pipeline folder (no model_index.json holding a "
                              f"JSON object)",
                              hint=f"the {role} stage needs a folder written by DiffusionPipeline.save_pretrained")
        info, digest = found
        cls = str(info.get("_class_name", ""))
        ok = cls in KONTEXT if role == "repose" else (cls in _t2i_classes() and not any(x in cls for x in T2I_EXCLUDE))
        if not ok:
            want = "FluxKontextPipeline" if role == "repose" else "a text-to-image pipeline (FluxPipeline, ...)"
            return Diagnostic(f"{where}: {path} holds a {cls or 'unknown'} pipeline; the {role} stage needs {want}")
        return ModelRef(stage, role, path, cls, digest)
    found = _read(path, "config.json")
    if found is None:
        return Diagnostic(f"{where}: {path} is not a transformers model folder (no config.json holding a JSON "
                          f"object)")
    info, digest = found
    mtype = str(info.get("model_type", ""))
    archs = info.get("architectures") or []
    if role == "llm":
        ok = any(str(a).endswith("ForCausalLM") or str(a).endswith("LMHeadModel") for a in archs)
        want = "a causal language model (…ForCausalLM)"
        kind = archs[0] if archs else mtype
    else:
        allowed = {"detector": DETECTORS, "segmenter": SEGMENTERS, "depth": DEPTHS, "embedder": EMBEDDERS}[role]
        ok, want, kind = mtype in allowed, f"one of: {', '.join(allowed)}", mtype
    if not ok:
        return Diagnostic(f"{where}: {path} holds a `{kind or 'unknown'}` model; the {role} model must be {want}")
    return ModelRef(stage, role, path, kind, digest)


def stage_models(cfg: BuildConfig, stages: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(stage, role, folder value) for every model the given stages load."""
    s = cfg.stages
    out: list[tuple[str, str, str]] = []
    if "prompts" in stages and s.prompts.kind == "llm":
        out.append(("prompts", "llm", s.prompts.model))
    table = {"image": [("text-to-image", s.image.model)],
             "segment": [("detector", s.segment.detector), ("segmenter", s.segment.model)],
             "depth": [("depth", s.depth.model)], "repose": [("repose", s.repose.model)],
             "identity": [("embedder", s.identity.model)]}
    for stage in stages:
        out += [(stage, role, value) for role, value in table.get(stage, [])]
    return out


def check_models(cfg: BuildConfig, stages: tuple[str, ...]) -> dict[str, list[ModelRef]]:
    """Every model the stages need, or one ModelError listing every bad folder."""
    refs: dict[str, list[ModelRef]] = {}
    problems: list[Diagnostic] = []
    for stage, role, value in stage_models(cfg, stages):
        got = check_folder(stage, role, value, cfg)
        if isinstance(got, Diagnostic):
            problems.append(got)
        else:
            refs.setdefault(stage, []).append(got)
    if problems:
        raise ModelError(problems)
    return refs


def find(refs: dict[str, list[ModelRef]], stage: str, role: str) -> ModelRef:
    return next(r for r in refs[stage] if r.role == role)
