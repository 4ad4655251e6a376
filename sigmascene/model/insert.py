"""Insertion into a photo: one pass for all subjects, the photo kept exactly outside the blend region.

At every step, latent tokens outside the blend region are replaced by the photo's latents noised to the current
level (flow matching: x_t = (1 - σ)·x_0 + σ·ε, the iterative baseline's `BlendCallback` run as diffusers'
`callback_on_step_end`), so the subjects are generated in the photo's context. The VAE cannot reproduce a photo
byte for byte, so the decoded image is then pasted back onto the photo: inside the region it is the model's,
across a `feather`-pixel seam outside it a linear mix, and beyond that exactly the photo's pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, cast

import numpy as np

from ..errors import SigmaError
from ..scene.compiled import CompiledScene
from .iterative import BlendCallback, _chain, initial_noise
from .output import SigmaPipelineOutput
from .seeds import seed_generator

if TYPE_CHECKING:
    import torch

    from .pipeline import SigmaPipeline


def feather_alpha(region: np.ndarray, feather: int) -> np.ndarray:
    """H x W float32: 1 in the region, falling linearly over `feather` pixels (chessboard distance) outside it,
    exactly 0 beyond."""
    import torch
    import torch.nn.functional as F

    m = torch.from_numpy(np.asarray(region, np.float32))[None, None]
    alpha = m.clone()
    grown = m
    for k in range(1, max(0, int(feather)) + 1):
        bigger = F.max_pool2d(grown, 3, stride=1, padding=1)
        alpha = torch.where((bigger > 0) & (grown == 0), torch.tensor(1.0 - k / (feather + 1)), alpha)
        grown = bigger
    return alpha[0, 0].numpy()


def paste_back(generated: Any, photo: np.ndarray, region: np.ndarray, feather: int) -> np.ndarray:
    """The generated image inside the region, the photo's own bytes where the feathered mask is 0."""
    gen = np.asarray(generated, dtype=np.uint8)[..., :3]
    if gen.shape != photo.shape:
        raise SigmaError(f"generated image is {gen.shape[1]}x{gen.shape[0]} but the photo is fitted to "
                         f"{photo.shape[1]}x{photo.shape[0]}")
    a = feather_alpha(region, feather)[..., None]
    mixed = np.rint(a * gen.astype(np.float32) + (1.0 - a) * photo.astype(np.float32)).astype(np.uint8)
    return np.where(a > 0, mixed, photo)


def _grow(region: np.ndarray, margin: int) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    if margin <= 0:
        return region
    m = torch.from_numpy(np.asarray(region, np.float32))[None, None]
    return F.max_pool2d(m, 2 * margin + 1, stride=1, padding=margin)[0, 0].numpy() > 0


def render_insert(pipe: "SigmaPipeline", compiled: CompiledScene, *, feather: int | None = None,
                  iterative: bool = False, prompt_mode: str = "auto", generator: "torch.Generator | None" = None,
                  output_type: str = "pil", callback: Callable[[int, int], None] | None = None,
                  **kwargs: Any) -> SigmaPipelineOutput:
    """Render `compiled` (which has a `background`) into its photo; `iterative` paints one subject per pass,
    each pass blended into the previous image, starting from the photo. `feather` None: 1/128 of the canvas's
    long side, at least 1 px (the compiler's `default_blend`). `generator` None: the scene's seed.
    `output_type="latent"` returns the final packed latents of the one-pass render, before decoding and pasting
    (not with `iterative`, whose passes hand pixels to each other)."""
    from ..scene.prompts import build_prompt

    photo, region = compiled.background, compiled.blend_region
    if photo is None or region is None:
        raise SigmaError("this scene has no `background` photo to insert into")
    if feather is None:
        feather = max(1, round(max(compiled.scene.canvas.width, compiled.scene.canvas.height) / 128))
    if feather < 0:
        raise SigmaError(f"feather must be zero or more pixels, got {feather}")
    if kwargs.get("num_images_per_prompt", 1) != 1:
        raise SigmaError("insertion renders one image at a time; loop over seeds instead")
    scene = compiled.scene
    canvas = (scene.canvas.height, scene.canvas.width)
    if iterative:
        from .iterative import render_iterative

        margin = int(compiled.manifest.get("background", {}).get("blend_margin_px", 0))
        if output_type == "latent":
            raise SigmaError("the iterative baseline hands pixels from pass to pass; it has no final latents to "
                             "return", hint="use output_type 'pil' or 'np'")
        out = render_iterative(pipe, compiled, prompt_mode=prompt_mode, generator=generator, callback=callback,
                               output_type="pil", background=photo, grow=lambda r: _grow(r, margin), **kwargs)
    else:
        user_step_end = kwargs.pop("callback_on_step_end", None)
        noise = initial_noise(pipe, canvas, generator or seed_generator(scene.seed))
        blend = BlendCallback(pipe, photo, region, noise, canvas)
        out = cast(SigmaPipelineOutput, pipe(prompt=build_prompt(scene, prompt_mode), control_image=compiled.control,
                   identity_image=compiled.identity, height=canvas[0], width=canvas[1], latents=noise,
                   callback=callback, callback_on_step_end=_chain(blend, user_step_end),
                   output_type="latent" if output_type == "latent" else "pil", **kwargs))
        if output_type == "latent":
            return out
    pasted = paste_back(out.images[0], photo, region, feather)
    timings = dict(out.timings, feather_px=feather)
    if output_type == "np":
        return SigmaPipelineOutput(images=pasted.astype(np.float32)[None] / 255.0, timings=timings)
    from PIL import Image

    return SigmaPipelineOutput(images=[Image.fromarray(pasted, "RGB")], timings=timings)
