"""The two diffusers stages: the target image (any text-to-image pipeline) and the identity images (Flux
Kontext reposes and relights each subject's cut-out on a plain background).

Both load through diffusers' own `from_pretrained` on a local folder and take render's memory options (dtype
incl. fp8 layerwise casting, accelerate offload), so a 24 GB card holds one of them at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import inspect

import numpy as np

from ..store import Outcome, png_bytes
from .base import Stage, Work

if TYPE_CHECKING:
    from ..config import ImageStage as ImageSection, ReposeStage as ReposeSection


def prompt_text(scene: dict) -> str:
    """The full prompt with each `@name` replaced by its caption: what a text-to-image model can read."""
    captions = {s["name"]: s["caption"] for s in scene["subjects"]}
    text = scene["full"]
    for name in sorted(captions, key=len, reverse=True):
        text = text.replace(f"@{name}", captions[name])
    return text


class _Diffusion(Stage):
    role = ""
    section: ImageSection  # [stages.image] or [stages.repose]: both diffusers pipelines

    def _load(self, cls):
        import torch

        from ....model.loading import quiet_libraries
        from ..models import find

        quiet_libraries()
        dev, dtype = self.device_dtype()
        pipe = cls.from_pretrained(str(find(self.plan.refs, self.name, self.role).path), torch_dtype=dtype)
        pipe.set_progress_bar_config(disable=True)
        if self.section.dtype == "fp8" and hasattr(pipe, "transformer"):
            pipe.transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
        if self.section.offload and dev.type == "cuda":
            getattr(pipe, f"enable_{self.section.offload}_cpu_offload")(device=dev)
        else:
            pipe.to(dev)
        params = inspect.signature(pipe.__call__).parameters
        self.extra = ({"max_sequence_length": self.section.max_sequence_length}
                      if "max_sequence_length" in params else {})
        return pipe


class ImageStage(_Diffusion):
    name, role = "image", "text-to-image"

    def load(self) -> None:
        from diffusers import AutoPipelineForText2Image

        self.m_pipe = self._load(AutoPipelineForText2Image)

    def process(self, works: list[Work]) -> list[Outcome]:
        b = self.cfg.build
        images = self.m_pipe(prompt=[prompt_text(w.scene) for w in works], height=b.height, width=b.width,
                             num_inference_steps=self.section.steps, guidance_scale=self.section.guidance,
                             generator=[self.generator(w.seed) for w in works], **self.extra).images
        return [Outcome(data={"prompt": prompt_text(w.scene)}, files={"image.png": png_bytes(im)})
                for w, im in zip(works, images)]


def cutout(image: np.ndarray, mask: np.ndarray, size: int, grey: int = 200) -> np.ndarray:
    """The subject alone on a plain background, cropped square around its mask (10 % margin), resized."""
    from PIL import Image

    from ...geometry import mask_box

    box = mask_box(mask)
    if box is None:  # the segment stage rejects empty masks, so a cut-out always has pixels
        raise ValueError("cutout of an empty mask")
    x0, y0, x1, y1 = box
    side = int(max(x1 - x0, y1 - y0) * 1.2) + 2
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    canvas = np.full((side, side, 3), grey, dtype=np.uint8)
    h, w = mask.shape
    sx0, sy0 = cx - side // 2, cy - side // 2
    ix0, iy0, ix1, iy1 = max(sx0, 0), max(sy0, 0), min(sx0 + side, w), min(sy0 + side, h)
    keep = mask[iy0:iy1, ix0:ix1]
    region = canvas[iy0 - sy0:iy1 - sy0, ix0 - sx0:ix1 - sx0]
    region[keep] = image[iy0:iy1, ix0:ix1][keep]
    return np.asarray(Image.fromarray(canvas).resize((size, size), Image.Resampling.LANCZOS))


class ReposeStage(_Diffusion):
    name, role = "repose", "repose"
    section: ReposeSection

    def load(self) -> None:
        from diffusers import FluxKontextPipeline

        self.m_pipe = self._load(FluxKontextPipeline)

    def process(self, works: list[Work]) -> list[Outcome]:
        from PIL import Image

        from .prompts import vocab

        size = self.cfg.build.identity_size
        jobs = []  # (work position, subject name, cut-out, instruction, seed)
        for k, w in enumerate(works):
            target = np.asarray(w.inputs["image"].image("image.png"))
            rng = np.random.default_rng(w.seed)
            for j, s in enumerate(w.scene["subjects"]):
                cut = cutout(target, w.inputs["segment"].mask(f"{s['name']}_mask.png"), size)
                how = vocab("repose")[rng.integers(len(vocab("repose")))]
                text = f"{how}, {self.section.background}. The subject is {s['caption']}."
                jobs.append((k, s["name"], cut, text, w.seed + 7919 * (j + 1)))
        outs = [Outcome(data={"instructions": {}}) for _ in works]
        n = self.section.batch
        for start in range(0, len(jobs), n):
            part = jobs[start:start + n]
            images = self.m_pipe(image=[Image.fromarray(j[2]) for j in part], prompt=[j[3] for j in part],
                                 height=size, width=size, max_area=size * size, _auto_resize=False,
                                 num_inference_steps=self.section.steps, guidance_scale=self.section.guidance,
                                 generator=[self.generator(j[4] % 2**63) for j in part], **self.extra).images
            for (k, name, cut, text, _), im in zip(part, images):
                outs[k].files[f"{name}_cutout.png"] = png_bytes(cut)
                outs[k].files[f"{name}_identity.png"] = png_bytes(im)
                outs[k].data["instructions"][name] = text
        return outs
