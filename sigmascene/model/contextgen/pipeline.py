"""ContextGenPipeline: ContextGen's published inference on the stock diffusers Flux Kontext classes.

Reads top to bottom like diffusers' `FluxKontextPipeline.__call__`, of which it is a subclass (text encoding,
latent packing, the scheduler, `load_lora_weights` are stock); what differs is ContextGen's:

1. the caption goes into the Kontext edit template;
2. the conditions are n masked references at their own size and one layout image at the canvas size, VAE-encoded
   with `latent_dist.sample()` — ContextGen draws that sample from torch's *global* RNG, references first, then
   the layout, so a run equals theirs only after the same `torch.manual_seed` (`condition_sampling="argmax"` takes
   the distribution's mode instead: deterministic, but no longer theirs);
3. the sequence [text 512 | main | layout | refs] with diagonal, bf16-rounded RoPE ids (sequence.py) and two
   boolean attention masks (masks.py) chosen per block (attention.py);
4. no `max_area` rescale: the canvas is used as given and must lie on the 16-px grid;
5. every step feeds [latents, layout, refs] at the same timestep and keeps the first M predictions.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence, cast

import numpy as np
import torch
from diffusers import FluxKontextPipeline
from diffusers.image_processor import VaeImageProcessor
from diffusers.pipelines.flux.pipeline_flux_kontext import calculate_shift, retrieve_timesteps
from diffusers.pipelines.flux.pipeline_output import FluxPipelineOutput

from ...errors import SigmaError
from .attention import KWARG, contextgen_processors
from .inputs import TOKEN_PX, Reference, layout_planes, round_canvas, token_box, token_mask
from .masks import ContextGenMasks, attention_masks
from .prompt import edit_prompt
from .sequence import TEXT_TOKENS, SequenceLayout, check_fits, position_ids, sequence_layout

DEFAULT_STEPS = 28
DEFAULT_GUIDANCE = 3.5
SAMPLING_MODES = ("sample", "argmax")


_KontextBase: Any = FluxKontextPipeline  # diffusers' pipelines are untyped: their attributes are set at run time


class ContextGenPipeline(_KontextBase):
    """Flux.1 Kontext [dev] + ContextGen's LoRA; `__call__` is ContextGen's `generate` for one image set."""

    def __init__(self, scheduler: Any, vae: Any, text_encoder: Any, tokenizer: Any, text_encoder_2: Any,
                 tokenizer_2: Any, transformer: Any, image_encoder: Any = None, feature_extractor: Any = None):
        super().__init__(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                         text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2, transformer=transformer,
                         image_encoder=image_encoder, feature_extractor=feature_extractor)
        self.mask_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale_factor * 2,
                                                vae_latent_channels=self.latent_channels, do_normalize=False,
                                                do_binarize=True, do_convert_grayscale=True)

    @classmethod
    def sharing(cls, pipe: Any) -> "ContextGenPipeline":
        """A ContextGenPipeline over another Kontext-component pipeline's modules (no copy: the same, possibly
        LoRA-adapted or offloaded, transformer)."""
        names = ("scheduler", "vae", "text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2", "transformer")
        out = cls(**{n: getattr(pipe, n) for n in names})
        out.set_progress_bar_config(disable=True)
        return out

    # -- conditions ----------------------------------------------------------------------------------------
    def encode_condition(self, pixels: torch.Tensor, sampling: str = "sample") -> torch.Tensor:
        """Packed latent tokens of condition pixels in [-1, 1]; "sample" draws from the global RNG as theirs."""
        x = pixels.to(self._execution_device).to(self.vae.dtype)
        dist = self.vae.encode(x).latent_dist
        z = dist.sample() if sampling == "sample" else dist.mode()
        z = (z - self.vae.config.shift_factor) * self.vae.config.scaling_factor
        return self._pack_latents(z, *z.shape)

    def prepare_conditions(self, references: Sequence[Reference], layout_image: Any, height: int, width: int,
                           sampling: str = "sample",
                           names: Sequence[str] | None = None,
                           locs: Sequence[Any] | None = None) -> tuple[torch.Tensor, SequenceLayout, ContextGenMasks]:
        """Layout + reference latents (1, K - M, 64), the sequence layout and both masks. RNG order as theirs:
        each reference in list order, then the layout."""
        grid = (height // TOKEN_PX, width // TOKEN_PX)
        seq = sequence_layout(grid, [r.token_size for r in references])
        check_fits(seq, names, locs)
        ref_latents, boxes, valid = [], [], []
        for ref in references:
            pixels = self.image_processor.preprocess(ref.image) * self.mask_processor.preprocess(ref.mask)
            boxes.append(token_box(ref.bbox, grid))
            valid.append(token_mask(ref))
            ref_latents.append(self.encode_condition(pixels, sampling))
        rgb, alpha = layout_planes(layout_image, width, height)
        layout_pixels = self.image_processor.preprocess(rgb) * self.mask_processor.preprocess(alpha)
        parts = [self.encode_condition(layout_pixels, sampling)] + ref_latents
        masks = attention_masks(seq, boxes, valid, device=self._execution_device)
        return torch.cat(parts, dim=1), seq, masks

    # -- the algorithm ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, prompt: str | None = None, references: Sequence[Reference] = (), layout_image: Any = None,
                 height: int | None = None, width: int | None = None, num_inference_steps: int = DEFAULT_STEPS,
                 sigmas: list[float] | None = None, guidance_scale: float = DEFAULT_GUIDANCE,
                 num_images_per_prompt: int = 1, generator: torch.Generator | list[torch.Generator] | None = None,
                 latents: torch.Tensor | None = None, output_type: str = "pil", return_dict: bool = True,
                 joint_attention_kwargs: dict[str, Any] | None = None,
                 callback_on_step_end: Callable[..., dict] | None = None,
                 callback_on_step_end_tensor_inputs: list[str] | None = None, max_sequence_length: int = TEXT_TOKENS,
                 condition_sampling: str = "sample", id_dtype: torch.dtype = torch.bfloat16,
                 reference_names: Sequence[str] | None = None, reference_locs: Sequence[Any] | None = None,
                 global_seed: int | None = None,
                 callback: Callable[[int, int], None] | None = None) -> Any:
        """One ContextGen render. `references`: `Reference`s already resized by `load_reference` (list order is
        sequence and RNG order); `layout_image`: RGBA, alpha marking subject pixels. `output_type="latent"`
        returns the final packed latents (B, M, 64). `callback(step, total)` is a progress hook. `global_seed`
        seeds torch's global RNG right before the conditions are sampled — where a run of ContextGen's `generate`
        after `torch.manual_seed(global_seed)` draws them; None leaves the global RNG as the caller set it."""
        tensor_inputs = list(callback_on_step_end_tensor_inputs or ["latents"])
        # 1. Check inputs.
        if height is None or width is None:
            raise SigmaError("ContextGen needs the canvas height and width")
        if height % TOKEN_PX or width % TOKEN_PX:  # ContextGen asserts; a library call is rounded and told
            width, height, said = round_canvas(width, height)
            warnings.warn(str(said), UserWarning, stacklevel=3)
        if layout_image is None:
            raise SigmaError("ContextGen needs a layout image (RGBA, alpha marking subject pixels)")
        if condition_sampling not in SAMPLING_MODES:
            raise SigmaError(f"condition_sampling must be one of {SAMPLING_MODES}, got {condition_sampling!r}")
        if max_sequence_length != TEXT_TOKENS:
            raise SigmaError(f"ContextGen's masks are built for {TEXT_TOKENS} text tokens")
        templated = edit_prompt(prompt or "")
        self.check_inputs(templated, None, height, width, callback_on_step_end_tensor_inputs=tensor_inputs,
                          max_sequence_length=max_sequence_length)
        self._guidance_scale = guidance_scale
        self._joint_attention_kwargs = dict(joint_attention_kwargs or {})
        self._current_timestep = None
        self._interrupt = False
        device = self._execution_device

        # 2. Encode the templated prompt (stock: CLIP pooled + T5 padded to 512).
        prompt_embeds, pooled_prompt_embeds, text_ids = self.encode_prompt(
            prompt=templated, prompt_2=None, device=device,
            num_images_per_prompt=num_images_per_prompt, max_sequence_length=max_sequence_length,
            lora_scale=self._joint_attention_kwargs.get("scale"))
        batch = prompt_embeds.shape[0]

        # 3. Conditions (global-RNG VAE samples: references, then layout), sequence layout, masks, RoPE ids.
        if global_seed is not None:
            torch.manual_seed(global_seed)
        cond, seq, masks = self.prepare_conditions(references, layout_image, height, width, condition_sampling,
                                                   reference_names, reference_locs)
        txt_ids, img_ids = position_ids(seq, dtype=id_dtype, device=device)

        # 4. Noise latents (stock prepare_latents, no image).
        channels = self.transformer.config.in_channels // 4
        latents, _, _, _ = self.prepare_latents(None, batch, channels, height, width, prompt_embeds.dtype, device,
                                                generator, latents)
        n_main = latents.shape[1]

        # 5. Timesteps: shift from the main tokens only.
        schedule = np.linspace(1.0, 1 / num_inference_steps, num_inference_steps) if sigmas is None else sigmas
        mu = calculate_shift(n_main, self.scheduler.config.get("base_image_seq_len", 256),
                             self.scheduler.config.get("max_image_seq_len", 4096),
                             self.scheduler.config.get("base_shift", 0.5), self.scheduler.config.get("max_shift", 1.15))
        timesteps, num_inference_steps = retrieve_timesteps(self.scheduler, num_inference_steps, device,
                                                            sigmas=cast(Any, schedule), mu=mu)
        self._num_timesteps = len(timesteps)
        guidance = None
        if self.transformer.config.guidance_embeds:
            guidance = torch.full([1], guidance_scale, device=device, dtype=torch.float32).expand(batch)
        cond = cond.to(device=device, dtype=latents.dtype).expand(batch, -1, -1)
        attention_kwargs = {**self._joint_attention_kwargs, KWARG: masks}

        # 6. Denoise: [latents, layout, refs] at one timestep; keep the main tokens' velocity.
        self.scheduler.set_begin_index(0)
        with contextgen_processors(self.transformer):
            for i, t in enumerate(timesteps):
                if self.interrupt:
                    continue
                self._current_timestep = t
                timestep = t.expand(batch).to(latents.dtype)
                noise_pred = self.transformer(hidden_states=torch.cat([latents, cond], dim=1), timestep=timestep / 1000,
                                              guidance=guidance, pooled_projections=pooled_prompt_embeds,
                                              encoder_hidden_states=prompt_embeds, txt_ids=txt_ids, img_ids=img_ids,
                                              joint_attention_kwargs=attention_kwargs, return_dict=False)[0]
                noise_pred = noise_pred[:, :n_main]
                latents = self.scheduler.step(noise_pred, t, latents, return_dict=False)[0]
                if callback_on_step_end is not None:
                    local = {"latents": latents, "prompt_embeds": prompt_embeds}
                    outputs = callback_on_step_end(self, i, t, {k: local[k] for k in tensor_inputs})
                    latents = outputs.pop("latents", latents)
                    prompt_embeds = outputs.pop("prompt_embeds", prompt_embeds)
                if callback is not None:
                    callback(i + 1, len(timesteps))
        self._current_timestep = None

        # 7. Decode (or hand back the packed latents).
        if output_type == "latent":
            image = latents
        else:
            lat = self._unpack_latents(latents, height, width, self.vae_scale_factor)
            lat = (lat / self.vae.config.scaling_factor) + self.vae.config.shift_factor
            image = self.vae.decode(lat.to(self.vae.dtype), return_dict=False)[0]
            image = self.image_processor.postprocess(image, output_type=output_type)
        self.maybe_free_model_hooks()
        if not return_dict:
            return (image,)
        return FluxPipelineOutput(images=cast(Any, image))
