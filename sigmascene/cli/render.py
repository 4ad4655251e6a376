"""`sigmascene render`: parse the options into a RenderRequest, resolve its plan, render it (rendering/render.py),
show its notes and progress, save.

What is rendered and what the sidecar says is decided in the library (sigmascene/render.py), so the editor and
`eval run` write the same sidecar as this command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app
from .outputs import beside, beside_help, check_finite, refuse_foreign_renders
from .common import (DTYPE_HELP, ROOT_HELP, SAFE_HELP, SET_HELP, console, load_scene, parse_identity_size, parse_sets,
                     progress_bars, scene_root, user_errors)


@app.command()
def render(
    file: Path = typer.Argument(..., help="The `.sigma` scene to render."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help=f"Image path ({beside_help('render')})."),
    output: Optional[Path] = typer.Option(None, "--output", hidden=True, help="Old spelling of --out."),
    base: Optional[str] = typer.Option(None, "--base", help="Flux Kontext diffusers folder (or env SIGMASCENE_BASE, "
                                       "or the config file; none: the embedded demo model)."),
    lora: Optional[list[str]] = typer.Option(None, "--lora", metavar="FILE[:WEIGHT]",
                                             help="LoRA .safetensors, optionally with a weight (repeatable: a SIGMA "
                                                  "LoRA plus style LoRAs) (or env SIGMASCENE_LORA, or the config "
                                                  "file)."),
    transformer: Optional[str] = typer.Option(None, "--transformer", metavar="FILE",
                                              help="Single-file (.safetensors) or GGUF Kontext transformer; the "
                                                   "other components come from --base."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, max=1000, help="Denoising steps (default 28; 20 with "
                                        "the demo model)."),
    guidance: Optional[float] = typer.Option(None, "--guidance", help="Distilled guidance strength (default: the "
                                             "method's, 2.5; contextgen 3.5)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed (default: the scene's `seed`)."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP, metavar="NAME=VALUE"),
    batch: int = typer.Option(1, "--batch", min=1, max=1000, help="Render K images with seeds seed..seed+K-1."),
    method: Optional[str] = typer.Option(None, "--method", help="sigma (one pass, needs a SIGMA LoRA) | iterative "
                                         "(the baseline: one subject per pass, SIGMA LoRA) | collage (stock Kontext "
                                         "reads a layout image; no LoRA) | contextgen (ContextGen's LoRA). "
                                         "Default: the demo model -> sigma; a SIGMA LoRA -> sigma; ContextGen's "
                                         "LoRA -> contextgen; a base and no LoRA -> collage (docs/methods.md)."),
    mode: str = typer.Option("single", "--mode", help="Old spelling: --mode iterative is --method iterative."),
    blend_margin: Optional[int] = typer.Option(None, "--blend-margin", min=0, max=4096,
                                               help="With a `background` photo: pixels around the subjects the "
                                                    "model may change (default 1/64 of the canvas's long side, "
                                                    "16 at 1024; docs/insertion.md)."),
    feather: Optional[int] = typer.Option(None, "--feather", min=0, max=512,
                                          help="With a `background` photo: px of seam where the render fades into "
                                               "the photo; beyond it every pixel is the photo's (default 1/128 of "
                                               "the long side, 8 at 1024)."),
    cache_conditions: bool = typer.Option(False, "--cache-conditions",
                                          help="Compute condition K/V once (needs a LoRA trained with the mask)."),
    segmenter: Optional[Path] = typer.Option(None, "--segmenter", metavar="DIR",
                                             help="collage: a SAM-family transformers folder that cuts out "
                                                  "references with no transparency and no `matte`."),
    detector: Optional[Path] = typer.Option(None, "--detector", metavar="DIR",
                                            help="collage: a zero-shot detector folder (Grounding DINO, OWLv2) "
                                                 "that finds each subject's caption for --segmenter."),
    offload: Optional[str] = typer.Option(None, "--offload", help="model | sequential CPU offload (GPU only)."),
    dtype: str = typer.Option("auto", "--dtype", help=DTYPE_HELP),
    vae_tiling: bool = typer.Option(False, "--vae-tiling", help="Decode in tiles to save memory."),
    prompt_mode: str = typer.Option("auto", "--prompt-mode", help="auto | background | full."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N."),
    identity_size: Optional[str] = typer.Option(None, "--identity-size", metavar="HxW",
                                                help="One identity block's size (default: half the canvas)."),
    safe: bool = typer.Option(False, "--safe", help=SAFE_HELP),
    root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing image or .json that an earlier "
                               "render did not write."),
    sheet: bool = typer.Option(True, "--sheet/--no-sheet", help="With the demo model: also write "
                               "<image>.sheet.png, layout | routing map | render at a readable size."),
) -> None:
    """Render a scene into an image.

    Every subject placed and identity-preserved: SIGMA in one pass per step, or another --method."""
    from ..core.files import refuse_unmarked_png
    from ..model.loading import quiet_libraries

    quiet_libraries()  # before the render modules load: the methods import diffusers' pipelines, which warn
    from ..rendering.plan import check_request, resolve_plan, resolve_seeds
    from ..rendering.render import RenderRequest, output_paths, render_plan, save_render, save_sheet, sheet_path

    with user_errors():
        if guidance is not None:
            check_finite("--guidance", guidance)
        options = RenderRequest(base=base, loras=list(lora or []), transformer=transformer, steps=steps,
                                guidance=guidance, seed=seed, method=method, mode=mode,
                                cache_conditions=cache_conditions,
                                offload=offload, dtype=dtype, vae_tiling=vae_tiling, prompt_mode=prompt_mode,
                                device=device, identity_size=parse_identity_size(identity_size), batch=batch,
                                blend_margin=blend_margin, feather=feather,
                                segmenter=str(segmenter) if segmenter else None,
                                detector=str(detector) if detector else None)
        check_request(options)
        sets = parse_sets(set_)
        target = Path(out or output or beside(Path(file), "render"))
        output_paths(target, [0])  # a wrong suffix is refused before minutes of rendering
        scene = load_scene(file, set_, scene_root(safe, root))
        images = output_paths(target, list(resolve_seeds(options, scene)))
        refuse_foreign_renders(images, force)  # before any model
        plan = resolve_plan(options, scene)  # every rule, once: weights, method, seeds
        sheet = sheet and plan.model.demo
        for image in images if sheet else []:
            refuse_unmarked_png(sheet_path(image), force, "render sheet", "-o")
        with progress_bars() as bars:  # a bar on a terminal, plain lines in a log
            task = bars.add("rendering", None, unit="steps")
            result = render_plan(scene, plan, note=_note, progress=lambda step, total: task.update(step, total),
                                  source=file, sets=sets)
        for k, (path, side) in enumerate(zip(save_render(result, target), result.sidecars)):
            console.print(f"wrote {path} and {path.with_suffix('.json').name} "
                          f"({side['timings'].get('denoise_s', 0.0):.1f} s denoising)")
            if sheet:
                console.print(f"wrote {save_sheet(result, k, path)} (asked vs got, upscaled to read)",
                              soft_wrap=True, markup=False, highlight=False)


def _note(message: str) -> None:
    style = None if message.startswith("no base model configured") else "yellow"
    console.print(message, style=style, markup=False, soft_wrap=True, highlight=False)
