"""Where a rendered image came from: the one model identity and the one sidecar every render carries.

`sigmascene render`, `eval run`, `eval toyworld` and the editor all write their sidecars through `render_sidecar`,
and `eval run` compares `model_identity` before resuming, so "which weights made this picture" has one answer:
the sha256 of the base's configs (hashing tens of GB per render would cost more than the render), each LoRA
file's sha256, weight and metadata, and the transformer file's id.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import SigmaError
from ..core.files import file_sha256
from ..version import __version__

if TYPE_CHECKING:
    from ..model.pipeline import SigmaPipeline
    from ..scene import Scene
    from ..scene.compiled import CompiledScene
    from .plan import ModelPlan, RenderPlan


_HASHES: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    """A file's sha256, remembered per (path, size, mtime): an eval run names its LoRA once per case."""

    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = file_sha256(path)
    return _HASHES[key]


def _big_file_id(path: Path) -> dict[str, Any]:
    """A multi-GB transformer file is named by its size and the sha256 of its first and last 16 MiB (hashing
    12 GB on every render would cost more than the render); a changed file changes its header or tail."""
    chunk = 16 << 20
    h = hashlib.sha256()
    size = path.stat().st_size
    with open(path, "rb") as f:
        h.update(f.read(chunk))
        if size > 2 * chunk:
            f.seek(size - chunk)
        h.update(f.read(chunk))
    return {"path": str(path.resolve()), "size": size, "sha256_head_tail": h.hexdigest()}


def model_identity(base: str | Path | None, loras: Sequence[tuple[str | Path, float]] = (), *,
                   transformer: str | Path | None = None, base_source: str = "flag", lora_source: str = "flag",
                   configs: dict[str, Any] | None = None) -> dict[str, Any]:
    """What names a model in every sidecar (render, eval run, toy-world, editor) without hashing tens of GB:
    the sha256 of the base's configs, each LoRA file's sha256, weight and metadata, the transformer file's id.

    `configs` stands in for a base that lives only in memory (a pipeline built in a script): its components'
    configs are hashed instead of the folder's files.
    """
    from ..model.lora import read_lora_info

    h = hashlib.sha256()
    base_path = Path(base).expanduser() if base is not None else None
    if base_path is not None and base_path.is_dir():
        for rel in ("model_index.json", "transformer/config.json", "vae/config.json"):
            p = base_path / rel
            if p.is_file():
                h.update(rel.encode() + p.read_bytes())
    elif configs is not None:
        h.update(json.dumps(configs, sort_keys=True, default=str).encode())
    entries = []
    for path, weight in loras:
        p = Path(path).expanduser()
        try:
            meta = read_lora_info(p).to_json()
        except SigmaError:
            meta = None
        entries.append({"path": str(p.resolve()), "sha256": _sha256(p) if p.is_file() else None,
                        "weight": float(weight), "metadata": meta})
    t = Path(transformer).expanduser() if transformer else None
    return {"base": str(base_path.resolve()) if base_path is not None else None, "base_source": base_source,
            "base_config_sha256": h.hexdigest(), "loras": entries, "lora_source": lora_source if entries else None,
            "transformer": _big_file_id(t) if t is not None and t.is_file() else None}


def identity_key(identity: dict[str, Any]) -> dict[str, Any]:
    """The part of a model identity that decides the pixels (where a path came from does not)."""
    return {k: v for k, v in identity.items() if not k.endswith("_source")}


def plan_identity(model: "ModelPlan") -> dict[str, Any]:
    """model_identity of the weights a plan names (before or after they are loaded)."""
    return model_identity(model.base, model.lora_pairs, transformer=model.transformer,
                          base_source=model.base_source, lora_source=model.lora_source)


def pipeline_identity(pipe: "SigmaPipeline") -> dict[str, Any]:
    """model_identity of a pipeline built in a script (no plan): its folder, loaded LoRAs and transformer file."""
    base: str | None = pipe.name_or_path or None
    loras = [(info.path, info.weight) for info in pipe.lora_infos.values() if info.path]
    configs = None
    if base is None or not Path(base).is_dir():
        configs = {"transformer": dict(pipe.transformer.config), "vae": dict(pipe.vae.config)}
        base = None
    return model_identity(base, loras, transformer=pipe.transformer_file, configs=configs)


# -- the sidecar -----------------------------------------------------------------------------------------------------
def scene_hash(scene: "Scene") -> str:
    """sha256 of the scene's canonical text (formatting and comments do not change it)."""
    try:
        from ..grammar import dumps

        text = dumps(scene)
    except (ImportError, SigmaError):
        text = scene.model_dump_json()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def maps_hash(compiled: "CompiledScene") -> str:
    """sha256 of I_C and I_S bytes: changes when a reference image or mask file changes under the same scene."""
    h = hashlib.sha256()
    for arr in (compiled.control, compiled.identity):
        h.update(repr(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def versions() -> dict[str, str]:
    import diffusers
    import torch
    import transformers


    return {"sigmascene": __version__, "torch": torch.__version__, "diffusers": diffusers.__version__,
            "transformers": transformers.__version__, "python": platform.python_version()}


def render_sidecar(*, scene: "Scene", compiled: "CompiledScene", plan: "RenderPlan", model: dict[str, Any],
                   pipe: "SigmaPipeline", seed: int, batch_index: int, timings: dict[str, float],
                   source: str | Path | None = None, sets: dict[str, str] | None = None,
                   method_facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one sidecar every render carries (`render`, `eval run`, toy-world, editor): enough to trace the image
    to its scene, maps, model, method and options, and the command that renders it again. `method_facts` are
    what the method itself reports (e.g. collage's instruction and layout file)."""
    from ..scene.prompts import build_prompt, resolve_mode

    dtype = str(pipe.vae.dtype).replace("torch.", "")  # what the math ran in
    storage = {str(p.dtype) for p in pipe.transformer.parameters()}
    side = {
        "scene": {"file": str(source) if source is not None else None, "hash": scene_hash(scene),
                  "maps_hash": maps_hash(compiled), "sets": dict(sets or {})},
        "prompt": build_prompt(scene, plan.prompt_mode), "prompt_mode": resolve_mode(scene, plan.prompt_mode),
        "method": plan.method, "insertion": plan.insertion,
        "mode": "iterative" if plan.method == "iterative" else "single", "steps": plan.steps,
        "guidance": plan.guidance, "size": [scene.canvas.width, scene.canvas.height],
        "subjects": list(compiled.order), "identity_block": list(compiled.block_size),
        "cache_conditions": plan.cache_conditions, "condition_mask": bool(pipe.condition_mask), "dtype": dtype,
        "fp8_storage": any("float8" in d for d in storage), "device": str(pipe._execution_device),
        "offload": plan.model.offload, "vae_tiling": plan.model.vae_tiling, "model": model, "versions": versions(),
        "seed": seed, "seeds": list(plan.seeds), "batch_index": batch_index, "timings": timings,
        "command": render_command(source, seed, sets or {}, model, plan),
    }
    side.update(method_facts or {})
    if scene.background is not None:  # insertion: the photo and how it was blended
        from ..compiler.background import default_blend

        entry = compiled.manifest.get("background") or {}
        feather = default_blend(scene.canvas.width, scene.canvas.height)[1] if plan.feather is None \
            else plan.feather
        side["background"] = {"path": scene.background.path, "depth": scene.background.depth,
                              "blend_margin_px": entry.get("blend_margin_px"), "feather_px": feather,
                              "blend_pixels": entry.get("blend_pixels")}
    return side


def render_command(source: str | Path | None, seed: int, sets: dict[str, str], model: dict[str, Any],
                   plan: "RenderPlan") -> str:
    parts = ["sigmascene", "render", str(source or "SCENE.sigma"), "--seed", str(seed), "--steps", str(plan.steps),
             "--guidance", repr(plan.guidance), "--method", plan.method, "--prompt-mode", plan.prompt_mode,
             "--dtype", plan.model.dtype]
    if model.get("base_source") != "demo":  # the demo model is what no --base means
        parts += ["--base", str(model.get("base"))]
        for entry in model.get("loras", []):
            w = entry["weight"]
            parts += ["--lora", entry["path"] + ("" if w == 1.0 else f":{w:g}")]
    if model.get("transformer"):
        parts += ["--transformer", model["transformer"]["path"]]
    if plan.cache_conditions:
        parts.append("--cache-conditions")
    if plan.segmenter is not None:
        parts += ["--segmenter", str(plan.segmenter)]
    if plan.detector is not None:
        parts += ["--detector", str(plan.detector)]
    if plan.identity_size:
        parts += ["--identity-size", "{}x{}".format(*plan.identity_size)]
    if plan.blend_margin is not None:
        parts += ["--blend-margin", str(plan.blend_margin)]
    if plan.feather is not None:
        parts += ["--feather", str(plan.feather)]
    for k, v in sets.items():
        parts += ["--set", f"{k}={v}"]
    return " ".join(shlex.quote(p) for p in parts)
