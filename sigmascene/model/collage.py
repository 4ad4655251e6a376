"""The `collage` method: stock FLUX.1 Kontext asked to turn the layout image into one photo.

Training-free: no SIGMA LoRA, no custom attention, no custom loop. The call is diffusers' own
`FluxKontextPipeline.__call__`, built from the SAME loaded components as the SigmaPipeline (transformer with any
style LoRAs, fp8 layer casting, GGUF / single-file weights and offload hooks included), so what a user reproduces
with stock diffusers from the sidecar is exactly what ran. Two arguments are set deliberately: `max_area` is the
canvas area and `_auto_resize` is off, because stock Kontext otherwise rescales the output to ~1024² and snaps the
context image to one of its preferred resolutions, which would move every subject off its place.

Insertion into a `background` photo uses the same blend as SIGMA's insertion (model/insert.py): a
`callback_on_step_end` keeps the photo's latents outside the blend region at every step, and the decoded image is
pasted back so pixels outside the region are exactly the photo's.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..errors import SigmaError
from .insert import paste_back
from .iterative import BlendCallback, _chain, initial_noise
from .output import SigmaPipelineOutput

#: How the generator is made from a seed (model/seeds.py), in the words the sidecar records.
GENERATOR = "torch.Generator('cpu').manual_seed(seed)"


def kontext_pipeline(pipe: Any) -> Any:
    """A stock `diffusers.FluxKontextPipeline` sharing `pipe`'s loaded components (nothing is copied or loaded);
    CPU-offload state is carried over so offload keeps working across calls."""
    from diffusers import FluxKontextPipeline

    kontext: Any = FluxKontextPipeline(**{k: v for k, v in pipe.components.items()
                                     if k in ("scheduler", "vae", "text_encoder", "tokenizer", "text_encoder_2",
                                              "tokenizer_2", "transformer", "image_encoder", "feature_extractor")})
    for attr in ("_all_hooks", "_offload_device", "_offload_gpu_id"):
        if hasattr(pipe, attr):
            setattr(kontext, attr, getattr(pipe, attr))
    kontext.set_progress_bar_config(disable=True)
    return kontext


def stock_call_kwargs(instruction: str, height: int, width: int, num_inference_steps: int,
                      guidance_scale: float) -> dict[str, Any]:
    """The arguments of `FluxKontextPipeline.__call__` besides `image` and `generator`: the sidecar writes these
    down verbatim so a render can be repeated with stock diffusers."""
    return {"prompt": instruction, "height": int(height), "width": int(width),
            "num_inference_steps": int(num_inference_steps), "guidance_scale": float(guidance_scale),
            "max_area": int(height) * int(width), "_auto_resize": False}


def render_collage(pipe: Any, layout: Any, instruction: str, *, generator: Any, num_inference_steps: int = 28,
                   guidance_scale: float = 2.5, output_type: str = "pil", photo: np.ndarray | None = None,
                   region: np.ndarray | None = None, feather: int = 1,
                   callback: Callable[[int, int], None] | None = None,
                   callback_on_step_end: Callable[..., dict] | None = None,
                   joint_attention_kwargs: dict[str, Any] | None = None) -> SigmaPipelineOutput:
    """One image from the layout image (PIL or H x W x 3 uint8, canvas-sized) and the instruction.

    `photo` + `region` (both H x W, from the compiled scene) insert into a photo: latents outside `region` follow
    the photo at every step, and the result is pasted back with a `feather`-px seam. `output_type="latent"`
    returns the final packed latents (B, tokens, 64), as diffusers does. `generator` is the seed's
    (`model.seeds.seed_generator`, recorded as GENERATOR in the sidecar). `callback(step, total)` reports progress;
    `callback_on_step_end` is diffusers' (it may set `pipe._interrupt`).
    """
    from PIL import Image

    t0 = time.perf_counter()
    image = layout if isinstance(layout, Image.Image) else Image.fromarray(np.asarray(layout, np.uint8), "RGB")
    width, height = image.size
    if (photo is None) != (region is None):
        raise SigmaError("insertion needs both the photo and its blend region")
    kontext = kontext_pipeline(pipe)
    total = num_inference_steps

    last_step = [t0]

    def progress(p: Any, i: int, t: Any, kwargs: dict) -> dict:
        last_step[0] = time.perf_counter()
        if callback is not None:
            callback(i + 1, total)
        return {}

    step_end = _chain(callback_on_step_end, progress)
    extra: dict[str, Any] = {}
    if photo is not None and region is not None:
        noise = initial_noise(kontext, (height, width), generator)
        step_end = _chain(BlendCallback(kontext, photo, region, noise, (height, width)), step_end)
        extra["latents"] = noise
    t_call = time.perf_counter()
    inner = "pil" if photo is not None and output_type != "latent" else output_type
    out = kontext(image=image, generator=generator, output_type=inner, callback_on_step_end=step_end,
                  joint_attention_kwargs=joint_attention_kwargs,
                  **stock_call_kwargs(instruction, height, width, num_inference_steps, guidance_scale), **extra)
    images = out.images
    if photo is not None and region is not None and output_type != "latent":
        pasted = paste_back(images[0], photo, region, feather)
        images = (pasted.astype(np.float32)[None] / 255.0 if output_type == "np"
                  else [Image.fromarray(pasted, "RGB")])
    # denoise_s: from the call to the end of the last step (the stock call encodes prompt and layout inside it)
    timings = {"denoise_s": last_step[0] - t_call, "total_s": time.perf_counter() - t0, "steps": num_inference_steps}
    return SigmaPipelineOutput(images=images, timings=timings)

