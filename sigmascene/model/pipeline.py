"""SigmaPipeline: every subject of a scene in one forward pass per denoising step, on Flux Kontext components.

The call reads top to bottom as the algorithm: encode the prompt; VAE-encode the identity dictionary I_S and the
control map I_C into clean condition tokens; draw the noise latent X; then at every step predict X's velocity
from [P, X, I_S, I_C] (conditions at timestep 0) and take an Euler step; decode X. Only X's prediction is ever
used — the conditions are context, not outputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from diffusers import AutoencoderKL, DiffusionPipeline, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
from diffusers.image_processor import VaeImageProcessor
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from ..errors import SigmaError
from .config import HOW_TO_GET_BASE, config_file
from .forward import build_condition_cache, sigma_forward
from .layout import (encode_conditions, encode_image_latents, make_layout, pack_latents, prepare_condition_image,
                     sequence_ids, to_uint8_rgb, unpack_latents)
from .lora import LoraInfo, load_sigma_lora


def calculate_shift(seq_len: int, base_seq_len: int = 256, max_seq_len: int = 4096, base_shift: float = 0.5,
                    max_shift: float = 1.15) -> float:
    """Flux's resolution-dependent timestep shift: larger images keep more noise for longer."""
    m = (max_shift - base_shift) / (max_seq_len - base_seq_len)
    return seq_len * m + (base_shift - m * base_seq_len)


@dataclass
class SigmaPipelineOutput(BaseOutput):
    images: Any
    timings: dict[str, float] = field(default_factory=dict)


def _onload(module: Any) -> None:
    """With model CPU offload, accelerate moves a model to the GPU in a hook on its `forward`; SIGMA walks the
    transformer's blocks itself, so it triggers that hook explicitly (a no-op without offload)."""
    hook = getattr(module, "_hf_hook", None)
    if hook is not None and hasattr(hook, "pre_forward"):
        hook.pre_forward(module)


class SigmaPipeline(DiffusionPipeline):
    """Flux.1 Kontext [dev] components + a SIGMA LoRA; see `__call__` for the algorithm."""

    model_cpu_offload_seq = "text_encoder->text_encoder_2->transformer->vae"
    _optional_components: list[str] = []

    def __init__(self, scheduler: FlowMatchEulerDiscreteScheduler, vae: AutoencoderKL, text_encoder: Any,
                 tokenizer: Any, text_encoder_2: Any, tokenizer_2: Any, transformer: FluxTransformer2DModel):
        super().__init__()
        self.register_modules(vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
                              tokenizer_2=tokenizer_2, transformer=transformer, scheduler=scheduler)
        self.vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.image_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale_factor * 2)
        self.lora_info: LoraInfo | None = None

    # -- loading --------------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> "SigmaPipeline":
        """Load a local diffusers Flux.1 Kontext [dev] folder (never the network); errors are SigmaErrors."""
        path = Path(pretrained_model_name_or_path).expanduser()
        hint = HOW_TO_GET_BASE.format(config=config_file())
        if not path.is_dir():
            raise SigmaError(f"base model folder {str(path)!r} does not exist", hint=hint)
        if not (path / "model_index.json").is_file():
            raise SigmaError(f"{str(path)!r} is not a diffusers pipeline folder (no model_index.json)", hint=hint)
        kwargs["local_files_only"] = True
        try:
            return super().from_pretrained(str(path), **kwargs)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError) as err:
            raise SigmaError(f"could not load the base model from {path}: {err}", hint=hint) from None

    def load_lora_weights(self, path: str | Path) -> LoraInfo:
        """Apply a SIGMA LoRA; its metadata decides whether the condition mask (and so the cache) is in force."""
        self.lora_info = load_sigma_lora(self.transformer, path)
        return self.lora_info

    @property
    def lora_infos(self) -> dict[str, LoraInfo]:
        return {} if self.lora_info is None else {"sigma": self.lora_info}

    @property
    def condition_mask(self) -> bool:
        """Whether conditions attend only to conditions: what the loaded LoRA was trained with."""
        return bool(self.lora_info and self.lora_info.condition_mask)

    # -- pieces of the algorithm, public so the trainer and tests can call them ---------------------------------
    def encode_prompt(self, prompt: str | list[str], *, device: torch.device, num_images_per_prompt: int = 1,
                      max_sequence_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """T5 token embeddings (the sequence P) and CLIP's pooled embedding (into the timestep embedding)."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        clip_len = self.tokenizer.model_max_length
        ids = self.tokenizer(prompts, padding="max_length", max_length=clip_len, truncation=True,
                             return_tensors="pt").input_ids
        pooled = self.text_encoder(ids.to(device), output_hidden_states=False).pooler_output
        t5_len = max_sequence_length or min(512, self.tokenizer_2.model_max_length)
        ids2 = self.tokenizer_2(prompts, padding="max_length", max_length=t5_len, truncation=True,
                                return_tensors="pt").input_ids
        embeds = self.text_encoder_2(ids2.to(device), output_hidden_states=False)[0]
        dtype = self.transformer.dtype
        embeds = embeds.to(device=device, dtype=dtype).repeat_interleave(num_images_per_prompt, dim=0)
        pooled = pooled.to(device=device, dtype=dtype).repeat_interleave(num_images_per_prompt, dim=0)
        return embeds, pooled

    def decode_latents(self, latents: torch.Tensor, grid: tuple[int, int], output_type: str = "pil") -> Any:
        lat = unpack_latents(latents, grid)
        shift = getattr(self.vae.config, "shift_factor", None) or 0.0
        lat = lat.to(self.vae.dtype) / self.vae.config.scaling_factor + shift
        image = self.vae.decode(lat, return_dict=False)[0]
        return self.image_processor.postprocess(image, output_type=output_type)

    # -- the algorithm ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, prompt: str | list[str] | None = None, prompt_embeds: torch.Tensor | None = None,
                 pooled_prompt_embeds: torch.Tensor | None = None, control_image: Any = None,
                 identity_image: Any = None, height: int | None = None, width: int | None = None,
                 num_inference_steps: int = 28, guidance_scale: float = 2.5,
                 generator: torch.Generator | list[torch.Generator] | None = None, cache_conditions: bool = False,
                 output_type: str = "pil", callback: Callable[[int, int], None] | None = None,
                 num_images_per_prompt: int = 1, latents: torch.Tensor | None = None,
                 condition_mask: bool | None = None, max_sequence_length: int | None = None,
                 background_image: Any = None, paint_mask: np.ndarray | None = None,
                 return_dict: bool = True) -> SigmaPipelineOutput | tuple:
        """Render one image per batch item from a control map I_C and an identity dictionary I_S.

        `cache_conditions` computes the conditions' keys/values once instead of every step; it needs the
        condition mask, which comes from the LoRA's metadata (`condition_mask` overrides it, for tests and
        trainers). `background_image` + `paint_mask` (True = repaint) keep everything outside the mask from the
        background image, by blended diffusion; the iterative baseline inserts one subject at a time with it.
        """
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        # 1. Check inputs and decide the attention layout.
        if control_image is None or identity_image is None:
            raise SigmaError("SIGMA needs both a control map (I_C) and an identity dictionary (I_S)")
        if (prompt is None) == (prompt_embeds is None):
            raise SigmaError("pass exactly one of `prompt` and `prompt_embeds`")
        if prompt_embeds is not None and pooled_prompt_embeds is None:
            raise SigmaError("`prompt_embeds` needs `pooled_prompt_embeds` from the same prompt")
        if num_inference_steps < 1:
            raise SigmaError(f"num_inference_steps must be at least 1, got {num_inference_steps}")
        mask = self.condition_mask if condition_mask is None else bool(condition_mask)
        if cache_conditions and not mask:
            why = ("no LoRA is loaded" if self.lora_info is None else
                   f"the LoRA {self.lora_info.path} was trained without the condition mask")
            raise SigmaError(f"--cache-conditions needs a LoRA trained with the condition attention mask, but {why}",
                             hint="train with `condition_mask: true`, or render without --cache-conditions")
        device = self._execution_device
        dtype = self.transformer.dtype

        # 2. Encode the prompt: P tokens from T5, the pooled CLIP vector for the timestep embedding.
        if prompt_embeds is None:
            prompt_embeds, pooled_prompt_embeds = self.encode_prompt(
                prompt, device=device, num_images_per_prompt=num_images_per_prompt,
                max_sequence_length=max_sequence_length)
        else:
            prompt_embeds = prompt_embeds.to(device=device, dtype=dtype)
            pooled_prompt_embeds = pooled_prompt_embeds.to(device=device, dtype=dtype)
        batch = prompt_embeds.shape[0]
        timings["encode_prompt_s"] = time.perf_counter() - t_start

        # 3. Encode the conditions: clean VAE latents of I_S and I_C, packed into tokens [I_S, I_C].
        t0 = time.perf_counter()
        control_image = to_uint8_rgb(control_image)
        canvas = (height or control_image.shape[0], width or control_image.shape[1])
        step = self.vae_scale_factor * 2
        if canvas[0] % step or canvas[1] % step:
            raise SigmaError(f"image size {canvas[1]}x{canvas[0]} must be a multiple of {step} px on both sides")
        cond_tokens, canvas, ident_hw = encode_conditions(self.vae, control_image, identity_image, canvas_hw=canvas,
                                                          vae_scale_factor=self.vae_scale_factor)
        cond_tokens = cond_tokens.to(device=device, dtype=dtype)
        layout = make_layout(prompt_embeds.shape[1], canvas, ident_hw, self.vae_scale_factor)
        ids = sequence_ids(layout, device=device, dtype=dtype)
        timings["encode_conditions_s"] = time.perf_counter() - t0

        # 4. The noise latent X, (B, n_x, C) tokens on the canvas grid.
        channels = self.transformer.config.in_channels // 4
        if latents is None:
            shape = (batch, channels, layout.x_grid[0] * 2, layout.x_grid[1] * 2)
            latents = pack_latents(randn_tensor(shape, generator=generator, device=device, dtype=dtype))
        latents = latents.to(device=device, dtype=dtype)
        noise = latents.clone()
        keep = background = None
        if background_image is not None:  # blended diffusion: the region outside `paint_mask` is given
            if paint_mask is None:
                raise SigmaError("background_image needs a paint_mask saying which pixels to repaint")
            pixels = prepare_condition_image(background_image, canvas)
            background = pack_latents(encode_image_latents(self.vae, pixels)).to(device=device, dtype=dtype)
            keep = 1.0 - token_mask(paint_mask, layout.x_grid).to(device=device, dtype=dtype)[None, :, None]

        # 5. Timesteps: Flux's shifted schedule from 1 (noise) to 0 (image), shift set by X's token count.
        sigmas = np.linspace(1.0, 1.0 / num_inference_steps, num_inference_steps)
        cfg = self.scheduler.config
        mu = calculate_shift(layout.n_x, cfg.get("base_image_seq_len", 256), cfg.get("max_image_seq_len", 4096),
                             cfg.get("base_shift", 0.5), cfg.get("max_shift", 1.15))
        self.scheduler.set_timesteps(sigmas=sigmas, device=device, mu=mu)
        self.scheduler.set_begin_index(0)
        timesteps = self.scheduler.timesteps

        # 6. Guidance is an input of the distilled model, not classifier-free guidance.
        guidance = None
        if self.transformer.config.guidance_embeds:
            guidance = torch.full((batch,), guidance_scale, device=device, dtype=torch.float32)

        # 7. The condition cache: conditions alone through every block, once.
        _onload(self.transformer)
        cache = None
        t0 = time.perf_counter()
        if cache_conditions:
            cache = build_condition_cache(self.transformer, cond_tokens=cond_tokens, cond_ids=ids["cond"],
                                          pooled_projections=pooled_prompt_embeds, guidance=guidance)
        timings["condition_cache_s"] = time.perf_counter() - t0

        # 8. Denoise: predict X's velocity from [P, X, I_S, I_C], Euler step, (blend), repeat.
        t0 = time.perf_counter()
        for i, t in enumerate(timesteps):
            velocity = sigma_forward(
                self.transformer, hidden_states=latents, cond_tokens=None if cache is not None else cond_tokens,
                encoder_hidden_states=prompt_embeds, pooled_projections=pooled_prompt_embeds,
                timestep=(t / 1000).expand(batch).to(dtype), guidance=guidance, txt_ids=ids["txt"], x_ids=ids["x"],
                cond_ids=ids["cond"], condition_mask=mask, cache=cache)
            latents = self.scheduler.step(velocity, t, latents, return_dict=False)[0].to(dtype)
            if keep is not None:
                s = self.scheduler.sigmas[i + 1].to(device=device, dtype=dtype)
                latents = keep * ((1 - s) * background + s * noise) + (1 - keep) * latents
            if callback is not None:
                callback(i + 1, len(timesteps))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        timings["denoise_s"] = time.perf_counter() - t0
        timings["steps"] = len(timesteps)
        del cache

        # 9. Decode X.
        t0 = time.perf_counter()
        image = latents if output_type == "latent" else self.decode_latents(latents, layout.x_grid, output_type)
        timings["decode_s"] = time.perf_counter() - t0
        timings["total_s"] = time.perf_counter() - t_start
        self.maybe_free_model_hooks()
        if not return_dict:
            return (image,)
        return SigmaPipelineOutput(images=image, timings=timings)

    # -- conveniences over CompiledScene ------------------------------------------------------------------------
    def render(self, compiled: Any, *, prompt_mode: str = "auto", seed: int | None = None, **kwargs: Any) -> SigmaPipelineOutput:
        """Render a CompiledScene (its I_C, I_S and scene) in one pass per step; the seed defaults to the scene's."""
        from ..prompts import build_prompt

        scene = compiled.scene
        generator = torch.Generator("cpu").manual_seed(int(scene.seed if seed is None else seed))
        return self(prompt=build_prompt(scene, prompt_mode), control_image=compiled.control,
                    identity_image=compiled.identity, height=scene.canvas.height, width=scene.canvas.width,
                    generator=generator, **kwargs)

    def render_iterative(self, compiled: Any, **kwargs: Any) -> SigmaPipelineOutput:
        """The baseline: one subject per pass, far to near, each pass painted into the previous output."""
        from .iterative import render_iterative

        return render_iterative(self, compiled, **kwargs)


def token_mask(mask: np.ndarray, grid: tuple[int, int], dilate: int = 1) -> torch.Tensor:
    """A pixel mask -> (rows*cols,) float token mask: a token is set if any of its pixels is, grown by `dilate`
    tokens so the blend seam falls outside the subject."""
    import torch.nn.functional as F

    rows, cols = grid
    m = torch.from_numpy(np.asarray(mask, dtype=np.float32))
    if m.ndim == 3:
        m = m.max(dim=2).values
    m = F.adaptive_max_pool2d(m[None, None], (rows, cols))
    if dilate:
        m = F.max_pool2d(m, 2 * dilate + 1, stride=1, padding=dilate)
    return (m[0, 0] > 0).float().reshape(rows * cols)
