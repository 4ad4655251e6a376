"""The iterative baseline: insert subjects one per pass, each pass painted into the previous output.

This is how the paper's baselines (Insert Anything and friends) place several subjects, and it exists here so
single-pass SIGMA can be compared with it honestly — same model, same maps, same prompt, same steps. Pass k
sees only subject k: a control map holding just its region (routing intensity 10, as a one-subject scene) and its
block of the identity dictionary. From the second pass on, blended diffusion keeps everything outside the
subject's region from the previous image — a diffusers step callback (`BlendCallback`) resets the tokens outside
the region after every step — so cost grows linearly with the number of subjects. A subject's region
is its full silhouette (the compiler's `coverage`) when known: alone in its pass, nothing occludes it; nearer
subjects, painted later, cover it again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, cast

import numpy as np

from ..core.vocab import ROUTING_STEP
from ..errors import SigmaError
from ..scene.compiled import CompiledScene
from .layout import encode_image_latents, pack_latents, prepare_condition_image, to_uint8_rgb
from .output import SigmaPipelineOutput
from .seeds import seed_generator

if TYPE_CHECKING:
    import torch

    from .pipeline import SigmaPipeline


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


class BlendCallback:
    """Blended diffusion as a `callback_on_step_end`: after step i, tokens outside the paint region become the
    background image noised to the next noise level, (1 - s) * background + s * noise, so only the region is
    generated and its edge is denoised in context. `noise` must be the call's initial latents."""

    def __init__(self, pipe: Any, background_image: Any, paint_mask: np.ndarray, noise: Any,
                 canvas: tuple[int, int]):
        import torch

        rows, cols = canvas[0] // (pipe.vae_scale_factor * 2), canvas[1] // (pipe.vae_scale_factor * 2)
        dtype, device = noise.dtype, noise.device
        pixels = prepare_condition_image(background_image, canvas)
        with torch.no_grad():
            self.background = pack_latents(encode_image_latents(pipe.vae, pixels)).to(device=device, dtype=dtype)
        self.keep = 1.0 - token_mask(paint_mask, (rows, cols)).to(device=device, dtype=dtype)[None, :, None]
        self.noise = noise

    def __call__(self, pipe: Any, i: int, t: Any, kwargs: dict) -> dict:
        latents = kwargs["latents"]
        s = pipe.scheduler.sigmas[i + 1].to(device=latents.device, dtype=latents.dtype)
        blended = self.keep * ((1 - s) * self.background + s * self.noise) + (1 - self.keep) * latents
        return {"latents": blended}


def token_mask(mask: np.ndarray, grid: tuple[int, int], dilate: int = 1) -> Any:
    """A pixel mask -> (rows*cols,) float token mask: a token is set if any of its pixels is, grown by `dilate`
    tokens so the blend seam falls outside the subject."""
    import torch
    import torch.nn.functional as F

    rows, cols = grid
    m = torch.from_numpy(np.asarray(mask, dtype=np.float32))
    if m.ndim == 3:
        m = m.max(dim=2).values
    m = F.adaptive_max_pool2d(m[None, None], (rows, cols))
    if dilate:
        m = F.max_pool2d(m, 2 * dilate + 1, stride=1, padding=dilate)
    return (m[0, 0] > 0).float().reshape(rows * cols)


def initial_noise(pipe: Any, canvas: tuple[int, int], generator: Any, batch: int = 1) -> Any:
    """The packed noise latent the pipeline would draw itself for this canvas (same generator, same values)."""
    from diffusers.utils.torch_utils import randn_tensor

    step = pipe.vae_scale_factor * 2
    channels = pipe.transformer.config.in_channels // 4
    shape = (batch, channels, canvas[0] // step * 2, canvas[1] // step * 2)
    return pack_latents(randn_tensor(shape, generator=generator, device=pipe._execution_device,
                                     dtype=pipe.transformer.dtype))


def render_iterative(pipe: "SigmaPipeline", compiled: CompiledScene, *, prompt_mode: str = "auto",
                     generator: "torch.Generator | None" = None,
                     callback: Callable[[int, int], None] | None = None, output_type: str = "pil",
                     num_inference_steps: int = 28, background: Any = None,
                     grow: Callable[[np.ndarray], np.ndarray] | None = None, **kwargs: Any) -> SigmaPipelineOutput:
    """N passes of `pipe` for N subjects; returns the pipeline output of the last pass with summed timings.
    A `callback_on_step_end` of the caller runs after the blend, in every pass; an interrupt ends the passes.
    With a `background` image (insertion), the first pass is blended into it too, and `grow` widens each
    subject's paint region (the blend margin). `generator` None: the scene's seed."""
    from ..scene.prompts import build_prompt

    user_step_end = kwargs.pop("callback_on_step_end", None)
    if kwargs.get("num_images_per_prompt", 1) != 1:
        raise SigmaError("the iterative baseline renders one image at a time; loop over seeds instead")
    scene = compiled.scene
    n = len(compiled.order)
    if n == 0:
        raise SigmaError("the scene has no subjects to insert")
    device = pipe._execution_device
    embeds, pooled = pipe.encode_prompt(build_prompt(scene, prompt_mode), device=device)
    if generator is None:
        generator = seed_generator(scene.seed)
    timings: dict[str, float] = {"passes": n}
    previous = background
    t_start = time.perf_counter()
    coverage = compiled.coverage
    for k in range(n):
        ctrl, ident, region = subject_maps(compiled.control, compiled.identity, n, k)
        full = coverage.get(compiled.order[k])
        if full is not None and background is not None and compiled.blend_region is not None:
            full = full & compiled.blend_region  # not where the photo's own depth hides the subject
        if full is not None and full.shape == region.shape:  # the whole silhouette, occluded parts included
            region = region | full.astype(bool)
            ctrl[..., :2] = np.where(region[..., None], ROUTING_STEP, 0).astype(np.uint8)
        if grow is not None:
            region = grow(region)
        if not region.any():
            continue  # hidden in both maps: nothing to paint (the compiler warns about it)
        step_cb = None if callback is None else (lambda i, total, k=k: callback(k * total + i, n * total))
        canvas = (scene.canvas.height, scene.canvas.width)
        noise = initial_noise(pipe, canvas, generator)
        blend = None if previous is None else BlendCallback(pipe, previous, region, noise, canvas)
        out = cast(SigmaPipelineOutput, pipe(
            prompt_embeds=embeds, pooled_prompt_embeds=pooled, control_image=ctrl, identity_image=ident,
            height=canvas[0], width=canvas[1], latents=noise, num_inference_steps=num_inference_steps,
            callback=step_cb, callback_on_step_end=_chain(blend, user_step_end), output_type="pil", **kwargs))
        if pipe.interrupt:
            break
        previous = out.images[0]
        for key, v in out.timings.items():
            if key.endswith("_s"):
                timings[key] = timings.get(key, 0.0) + v
    if previous is None or previous is background:
        raise SigmaError("no subject is visible in the control map, so the iterative baseline has nothing to paint")
    timings["total_s"] = time.perf_counter() - t_start
    image = previous
    if output_type == "np":
        image = np.asarray(previous, dtype=np.float32)[None] / 255.0
    elif output_type == "pil":
        image = [previous]
    return SigmaPipelineOutput(images=image, timings=timings)


def _chain(first: Any, second: Any) -> Any:
    """One step callback running `first` then `second` on its result (either may be None)."""
    if first is None or second is None:
        return first or second

    def both(pipe: Any, i: int, t: Any, kwargs: dict) -> dict:
        kwargs = dict(kwargs, **(first(pipe, i, t, kwargs) or {}))
        return dict(kwargs, **(second(pipe, i, t, kwargs) or {}))

    return both
