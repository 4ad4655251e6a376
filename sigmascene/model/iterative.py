"""The iterative baseline: insert subjects one per pass, each pass painted into the previous output.

This is how the paper's baselines (Insert Anything and friends) place several subjects, and it exists here so
single-pass SIGMA can be compared with it honestly — same model, same maps, same prompt, same steps. Pass k
sees only subject k: a control map holding just its region (routing intensity 10, as a one-subject scene) and its
block of the identity dictionary. From the second pass on, blended diffusion keeps everything outside the
subject's region from the previous image, so cost grows linearly with the number of subjects. A subject's region
is its full silhouette (the compiler's `coverage`) when known: alone in its pass, nothing occludes it; nearer
subjects, painted later, cover it again.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..errors import SigmaError
from ..vocab import ROUTING_STEP
from .layout import to_uint8_rgb



def subject_maps(control: Any, identity: Any, n_subjects: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Control map, identity block and pixel region of subject `k` (0-based in far-to-near order) alone.

    The region is where the subject routes in either map (IR_asc in R, IR_desc in G), so a subject hidden
    behind a nearer one in IR_asc is still painted where IR_desc reveals it.
    """
    ctrl = to_uint8_rgb(control)
    ident = to_uint8_rgb(identity)
    if not 0 <= k < n_subjects:
        raise SigmaError(f"subject index {k} out of range for {n_subjects} subjects")
    if ident.shape[0] % n_subjects:
        raise SigmaError(f"identity dictionary height {ident.shape[0]} px does not split into {n_subjects} blocks")
    value = ROUTING_STEP * (k + 1)
    region = (ctrl[..., 0] == value) | (ctrl[..., 1] == value)
    one = np.zeros_like(ctrl)
    one[..., 0][region] = ROUTING_STEP
    one[..., 1][region] = ROUTING_STEP
    one[..., 2] = np.where(region, ctrl[..., 2], 0)
    h = ident.shape[0] // n_subjects
    return one, np.ascontiguousarray(ident[k * h:(k + 1) * h]), region


def render_iterative(pipe: Any, compiled: Any, *, prompt_mode: str = "auto", seed: int | None = None,
                     callback: Callable[[int, int], None] | None = None, output_type: str = "pil",
                     num_inference_steps: int = 28, **kwargs: Any) -> Any:
    """N passes of `pipe` for N subjects; returns the pipeline output of the last pass with summed timings."""
    import torch

    from ..prompts import build_prompt
    from .pipeline import SigmaPipelineOutput

    if kwargs.get("num_images_per_prompt", 1) != 1:
        raise SigmaError("the iterative baseline renders one image at a time; loop over seeds instead")
    scene = compiled.scene
    n = len(compiled.order)
    if n == 0:
        raise SigmaError("the scene has no subjects to insert")
    device = pipe._execution_device
    embeds, pooled = pipe.encode_prompt(build_prompt(scene, prompt_mode), device=device)
    generator = torch.Generator("cpu").manual_seed(int(scene.seed if seed is None else seed))
    timings: dict[str, float] = {"passes": n}
    previous = None
    t_start = time.perf_counter()
    coverage = getattr(compiled, "coverage", None) or {}
    for k in range(n):
        ctrl, ident, region = subject_maps(compiled.control, compiled.identity, n, k)
        full = coverage.get(compiled.order[k])
        if full is not None and full.shape == region.shape:  # the whole silhouette, occluded parts included
            region = region | full.astype(bool)
            ctrl[..., :2] = np.where(region[..., None], ROUTING_STEP, 0).astype(np.uint8)
        if not region.any():
            continue  # hidden in both maps: nothing to paint (the compiler warns about it)
        step_cb = None if callback is None else (lambda i, total, k=k: callback(k * total + i, n * total))
        out = pipe(prompt_embeds=embeds, pooled_prompt_embeds=pooled, control_image=ctrl, identity_image=ident,
                   height=scene.canvas.height, width=scene.canvas.width, generator=generator,
                   num_inference_steps=num_inference_steps, callback=step_cb,
                   background_image=previous, paint_mask=region if previous is not None else None,
                   output_type="pil", **kwargs)
        previous = out.images[0]
        for key, v in out.timings.items():
            if key.endswith("_s"):
                timings[key] = timings.get(key, 0.0) + v
    if previous is None:
        raise SigmaError("no subject is visible in the control map, so the iterative baseline has nothing to paint")
    timings["total_s"] = time.perf_counter() - t_start
    image = previous
    if output_type == "np":
        image = np.asarray(previous, dtype=np.float32)[None] / 255.0
    elif output_type == "pil":
        image = [previous]
    return SigmaPipelineOutput(images=image, timings=timings)
