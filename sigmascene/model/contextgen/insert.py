"""ContextGen into a `background` photo, by the same blended diffusion as SIGMA's insertion (model/insert.py):
after every step the tokens outside the blend region become the photo noised to the next level, and the decoded
picture is pasted back so every pixel outside the region (and its feather) is the photo's own."""

from __future__ import annotations

from typing import Any

from ...errors import SigmaError
from ..insert import paste_back
from ..iterative import BlendCallback, _chain, initial_noise


def contextgen_insert(pipe: Any, photo: Any, region: Any, *, feather: int, height: int, width: int,
                      generator: Any, output_type: str = "pil", **kwargs: Any) -> tuple[Any, Any]:
    """(images, the decoded render before pasting or None) of a ContextGenPipeline call blended into `photo`.
    `output_type="latent"` returns the final packed latents (blended, before decoding)."""
    import numpy as np
    from PIL import Image

    if photo is None or region is None:
        raise SigmaError("this scene has no `background` photo to insert into")
    canvas = (height, width)
    noise = initial_noise(pipe, canvas, generator)
    blend = BlendCallback(pipe, photo, region, noise, canvas)
    user_step_end = kwargs.pop("callback_on_step_end", None)
    out = pipe(height=height, width=width, latents=noise, generator=generator,
               callback_on_step_end=_chain(blend, user_step_end),
               output_type="latent" if output_type == "latent" else "pil", **kwargs)
    if output_type == "latent":
        return out.images, None
    pasted = paste_back(out.images[0], photo, region, feather)
    if output_type == "np":
        return pasted.astype(np.float32)[None] / 255.0, out.images[0]
    return [Image.fromarray(pasted, "RGB")], out.images[0]
