"""`sigmascene render`: compile a scene, render it with the SIGMA pipeline, write the image and a sidecar JSON.

The sidecar holds everything needed to make the same image again (scene hash, maps hash, seed, model ids, every
option) plus timings, so a picture found later in a folder can always be traced and reproduced.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shlex
import time
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import SigmaError
from ..model.loading import DTYPE_HELP, DTYPES, OFFLOADS
from ._app import app
from .common import (ROOT_HELP, SAFE_HELP, SET_HELP, console, load_scene, parse_identity_size, parse_sets, scene_root,
                     user_errors)


@app.command()
def render(
    file: Path = typer.Argument(..., help="The `.sigma` scene to render."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Image path (default: <scene>.png)."),
    base: Optional[str] = typer.Option(None, "--base", help="Flux Kontext diffusers folder (or env SIGMASCENE_BASE, or the config file; none: the embedded demo model)."),
    lora: Optional[str] = typer.Option(None, "--lora", help="SIGMA LoRA .safetensors (or env SIGMASCENE_LORA, or the config file)."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, max=1000, help="Denoising steps (default 28; 20 with the demo model)."),
    guidance: float = typer.Option(2.5, "--guidance", help="Distilled guidance strength."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed (default: the scene's `seed`)."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP, metavar="NAME=VALUE"),
    batch: int = typer.Option(1, "--batch", min=1, max=1000, help="Render K images with seeds seed..seed+K-1."),
    mode: str = typer.Option("single", "--mode", help="single (all subjects in one pass) | iterative (baseline)."),
    cache_conditions: bool = typer.Option(False, "--cache-conditions",
                                          help="Compute condition K/V once (needs a LoRA trained with the mask)."),
    offload: Optional[str] = typer.Option(None, "--offload", help="model | sequential CPU offload (GPU only)."),
    dtype: str = typer.Option("auto", "--dtype", help=DTYPE_HELP),
    vae_tiling: bool = typer.Option(False, "--vae-tiling", help="Decode in tiles to save memory."),
    prompt_mode: str = typer.Option("auto", "--prompt-mode", help="auto | background | full."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N."),
    identity_size: Optional[str] = typer.Option(None, "--identity-size", metavar="HxW",
                                                help="One identity block's size (default: half the canvas)."),
    safe: bool = typer.Option(False, "--safe", help=SAFE_HELP),
    root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP),
) -> None:
    """Render a scene with SIGMA: every subject placed and identity-preserved in one pass per step."""
    with user_errors():
        _check_choices(mode, offload, dtype, prompt_mode)
        sets = parse_sets(set_)
        t0 = time.perf_counter()
        block = parse_identity_size(identity_size)
        scene = load_scene(file, set_, scene_root(safe, root))
        compiled = _compile(scene, block)
        t_compile = time.perf_counter() - t0
        for w in getattr(compiled, "warnings", []):
            console.print(str(w), style="yellow", markup=False, soft_wrap=True, highlight=False)

        from ..model.config import require_base, resolve_model_paths
        from ..model.loading import compute_dtype, load_pipeline, resolve_device
        from ..prompts import build_prompt, resolve_mode

        paths = resolve_model_paths(base, lora)
        if paths.base is None:  # nothing configured: the embedded demo model (sigmascene/demo)
            from ..demo import DEMO_STEPS
            from ..demo.select import demo_banner, demo_model_paths, demo_notes

            paths = demo_model_paths(paths)
            console.print(demo_banner(), markup=False, soft_wrap=True)
            for note in demo_notes(scene):
                console.print(note, style="yellow", markup=False, soft_wrap=True, highlight=False)
            steps = steps or DEMO_STEPS
        base_dir = require_base(paths)
        steps = steps or 28
        prompt = build_prompt(scene, prompt_mode)
        t0 = time.perf_counter()
        with console.status("loading the model..."):
            pipe = load_pipeline(base_dir, paths.lora, device=device, dtype=dtype, offload=offload,
                                 vae_tiling=vae_tiling, note=lambda m: console.print(m, style="yellow", markup=False))
            dev = resolve_device(device)
            torch_dtype = compute_dtype(dtype, dev)
        t_load = time.perf_counter() - t0

        first = scene.seed if seed is None else seed
        seeds = [first + k for k in range(batch)]
        out = output or Path(file).with_suffix(".png").name
        out = Path(out)
        if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
            raise SigmaError(f"output {str(out)!r} must end in .png, .jpg or .webp")
        common = {
            "scene": {"file": str(file), "hash": scene_hash(scene), "maps_hash": maps_hash(compiled), "sets": sets},
            "prompt": prompt, "prompt_mode": resolve_mode(scene, prompt_mode), "mode": mode, "steps": steps,
            "guidance": guidance, "size": [scene.canvas.width, scene.canvas.height], "subjects": list(compiled.order),
            "identity_block": list(compiled.block_size), "cache_conditions": cache_conditions,
            "condition_mask": pipe.condition_mask, "dtype": str(torch_dtype).replace("torch.", ""),
            "fp8_storage": dtype == "fp8", "device": str(dev), "offload": offload, "vae_tiling": vae_tiling,
            "model": model_ids(base_dir, paths, pipe), "versions": _versions(), "seeds": seeds,
        }
        for k, s in enumerate(seeds):
            path = out if batch == 1 else out.with_name(f"{out.stem}_{s}{out.suffix}")
            result = _render_one(pipe, compiled, mode=mode, seed=s, steps=steps, guidance=guidance,
                                 cache=cache_conditions, prompt_mode=prompt_mode, label=f"{path.name}")
            path.parent.mkdir(parents=True, exist_ok=True)
            result.images[0].save(path)
            sidecar = dict(common, image=path.name, seed=s, batch_index=k,
                           timings=dict(result.timings, compile_s=t_compile, load_s=t_load),
                           command=_command(file, path, s, sets, paths, steps, guidance, mode, cache_conditions,
                                            prompt_mode, dtype, identity_size))
            side = path.with_suffix(".json")
            side.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            console.print(f"wrote {path} and {side.name} ({result.timings.get('denoise_s', 0.0):.1f} s denoising)")


def _check_choices(mode: str, offload: str | None, dtype: str, prompt_mode: str) -> None:
    from ..prompts import PROMPT_MODES

    for what, value, allowed in (("--mode", mode, ("single", "iterative")),
                                 ("--offload", offload, (None, *OFFLOADS)),
                                 ("--dtype", dtype, DTYPES), ("--prompt-mode", prompt_mode, PROMPT_MODES)):
        if value not in allowed:
            raise SigmaError(f"{what} {value!r} is not one of: {', '.join(a for a in allowed if a)}")


def _compile(scene: Any, identity_size: tuple[int, int] | None) -> Any:
    import sigmascene

    return sigmascene.compile(scene) if identity_size is None else sigmascene.compile(scene, identity_size=identity_size)


def _render_one(pipe: Any, compiled: Any, *, mode: str, seed: int, steps: int, guidance: float, cache: bool,
                prompt_mode: str, label: str) -> Any:
    import torch
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"{label} (seed {seed})", total=None)

        def step(i: int, total: int) -> None:
            bar.update(task, completed=i, total=total)

        kwargs = dict(prompt_mode=prompt_mode, seed=seed, num_inference_steps=steps, guidance_scale=guidance,
                      cache_conditions=cache, callback=step)
        try:
            if mode == "iterative":
                return pipe.render_iterative(compiled, **kwargs)
            return pipe.render(compiled, **kwargs)
        except torch.OutOfMemoryError:
            raise SigmaError("out of GPU memory while rendering", hint="try --offload model (or sequential), "
                             "--dtype fp8, --vae-tiling, or fewer/smaller identity blocks") from None


def scene_hash(scene: Any) -> str:
    """sha256 of the scene's canonical text (formatting and comments do not change it)."""
    try:
        from ..grammar import dumps

        text = dumps(scene)
    except (ImportError, SigmaError):
        text = scene.model_dump_json()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def maps_hash(compiled: Any) -> str:
    """sha256 of I_C and I_S bytes: changes when a reference image or mask file changes under the same scene."""
    h = hashlib.sha256()
    for arr in (compiled.control, compiled.identity):
        h.update(repr(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def model_ids(base_dir: Path, paths: Any, pipe: Any) -> dict[str, Any]:
    """Names that pin the weights without hashing tens of GB: config hashes of the base, the LoRA file's hash."""
    from ..files import file_sha256

    h = hashlib.sha256()
    for rel in ("model_index.json", "transformer/config.json", "vae/config.json"):
        p = base_dir / rel
        if p.is_file():
            h.update(rel.encode() + p.read_bytes())
    info = getattr(pipe, "lora_info", None)
    return {
        "base": str(base_dir.resolve()), "base_source": paths.base_source, "base_config_sha256": h.hexdigest(),
        "lora": str(paths.lora.resolve()) if paths.lora else None, "lora_source": paths.lora_source,
        "lora_sha256": file_sha256(paths.lora) if paths.lora and paths.lora.is_file() else None,
        "lora_metadata": info.to_json() if info is not None else None,
    }


def _versions() -> dict[str, str]:
    import diffusers
    import torch
    import transformers

    from .. import __version__

    return {"sigmascene": __version__, "torch": torch.__version__, "diffusers": diffusers.__version__,
            "transformers": transformers.__version__, "python": platform.python_version()}


def _command(file: Path, path: Path, seed: int, sets: dict, paths: Any, steps: int, guidance: float, mode: str,
             cache: bool, prompt_mode: str, dtype: str, identity_size: str | None) -> str:
    parts = ["sigmascene", "render", str(file), "-o", str(path), "--seed", str(seed), "--steps", str(steps),
             "--guidance", repr(guidance), "--mode", mode, "--prompt-mode", prompt_mode, "--dtype", dtype]
    if paths.base_source != "demo":  # the demo model is what no --base means
        parts += ["--base", str(paths.base)]
    if paths.lora and paths.lora_source != "demo":
        parts += ["--lora", str(paths.lora)]
    if cache:
        parts.append("--cache-conditions")
    if identity_size:
        parts += ["--identity-size", identity_size]
    for k, v in sets.items():
        parts += ["--set", f"{k}={v}"]
    return " ".join(shlex.quote(p) for p in parts)
