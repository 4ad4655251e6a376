"""SigmaPipeline: every subject of a scene in one forward pass per denoising step, on Flux Kontext components.

The call reads top to bottom as the algorithm: encode the prompt; VAE-encode the identity dictionary I_S and the
control map I_C into clean condition tokens; draw the noise latent X; then at every step predict X's velocity
from [P, X, I_S, I_C] (conditions at timestep 0) and take an Euler step; decode X. Only X's prediction is ever
used — the conditions are context, not outputs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, cast

import numpy as np
import torch
from diffusers import AutoencoderKL, DiffusionPipeline, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
from diffusers.image_processor import VaeImageProcessor
from diffusers.utils.torch_utils import randn_tensor

from ..errors import ModelError, SigmaError
from ..scene.compiled import CompiledScene
from .adapters import SigmaLoraLoaderMixin
from .attention import check_attention_mask, condition_attention_mask, merge_attention_masks
from .attention_kwargs import read_joint_attention_kwargs
from .config import HOW_TO_GET_BASE, config_file
from .forward import build_condition_cache, sigma_forward
from .layout import encode_conditions, make_layout, pack_latents, sequence_ids, to_uint8_rgb, unpack_latents
from .output import SigmaPipelineOutput
from .seeds import seed_generator

#: Written beside a saved pipeline so `DiffusionPipeline.from_pretrained(folder, trust_remote_code=True)` finds the
#: class: diffusers' custom-pipeline convention, `_class_name = [module file, class]` in model_index.json.
CUSTOM_MODULE = "sigma_pipeline"
_SHIM = ('"""Written by sigmascene: lets diffusers\' DiffusionPipeline.from_pretrained load this folder as a '
         'SigmaPipeline."""\n\nfrom sigmascene.model.pipeline import SigmaPipeline  # noqa: F401\n')


def calculate_shift(seq_len: int, base_seq_len: int = 256, max_seq_len: int = 4096, base_shift: float = 0.5,
                    max_shift: float = 1.15) -> float:
    """Flux's resolution-dependent timestep shift: larger images keep more noise for longer."""
    m = (max_shift - base_shift) / (max_seq_len - base_seq_len)
    return seq_len * m + (base_shift - m * base_seq_len)


def _is_our_folder(path: Path) -> bool:
    """Whether the folder was saved by SigmaPipeline.save_pretrained (its module file is exactly our shim)."""
    import json

    try:
        index = json.loads((path / "model_index.json").read_text(encoding="utf-8"))
        shim = (path / f"{CUSTOM_MODULE}.py").read_text(encoding="utf-8")
    except (OSError, ValueError, RecursionError):
        return False
    name = index.get("_class_name") if isinstance(index, dict) else None
    return isinstance(name, list) and bool(name) and name[0] == CUSTOM_MODULE and shim == _SHIM


def _check_index(index_file: Path, hint: str) -> None:
    """model_index.json must be a JSON object (diffusers indexes into it and raises AttributeError otherwise)."""
    import json

    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        raise ModelError(f"{index_file} is not readable JSON: {err}", hint=hint) from None
    if not isinstance(index, dict):
        raise ModelError(f"{index_file} holds a JSON {type(index).__name__}, not an object naming the pipeline's "
                         f"components", hint=hint)


def _onload(module: Any) -> None:
    """With model CPU offload, accelerate moves a model to the GPU in a hook on its `forward`; SIGMA walks the
    transformer's blocks itself, so it triggers that hook explicitly (a no-op without offload)."""
    hook = getattr(module, "_hf_hook", None)
    if hook is not None and hasattr(hook, "pre_forward"):
        hook.pre_forward(module)


class SigmaPipeline(DiffusionPipeline, SigmaLoraLoaderMixin):
    """Flux.1 Kontext [dev] components + SIGMA LoRA(s); see `__call__` for the algorithm.

    Built like `FluxKontextPipeline` (same components, so `SigmaPipeline(**kontext.components)` and
    `SigmaPipeline.from_pipe(kontext)` work; the unused `image_encoder` / `feature_extractor` are accepted), with
    diffusers' Flux LoRA loader and adapter API (see adapters.py).
    """

    model_cpu_offload_seq = "text_encoder->text_encoder_2->transformer->vae"
    _optional_components = ["image_encoder", "feature_extractor"]
    _callback_tensor_inputs = ["latents", "prompt_embeds"]
    transformer_file: str | None = None  # a single-file / GGUF transformer that replaced the base's (loading.py)
    # The components diffusers' register_modules sets, named for the type checker (no value: nothing changes;
    # Any because diffusers' and torch's module classes are not typed for it).
    vae: Any
    transformer: Any
    scheduler: Any
    text_encoder: Any
    text_encoder_2: Any
    tokenizer: Any
    tokenizer_2: Any
    if TYPE_CHECKING:  # DiffusionPipeline's own properties, which the type checker does not see through
        _execution_device: torch.device
        name_or_path: str | None

    def __init__(self, scheduler: FlowMatchEulerDiscreteScheduler, vae: AutoencoderKL, text_encoder: Any,
                 tokenizer: Any, text_encoder_2: Any, tokenizer_2: Any, transformer: FluxTransformer2DModel,
                 image_encoder: Any = None, feature_extractor: Any = None):
        super().__init__()
        self.register_modules(vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
                              tokenizer_2=tokenizer_2, transformer=transformer, scheduler=scheduler,
                              image_encoder=image_encoder, feature_extractor=feature_extractor)
        self.vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.image_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale_factor * 2)
        self._interrupt = False

    # -- loading and saving -----------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> "SigmaPipeline":
        """Load a local diffusers Flux.1 Kontext [dev] folder (never the network); errors are SigmaErrors."""
        path = Path(pretrained_model_name_or_path).expanduser()
        hint = HOW_TO_GET_BASE.format(config=config_file())
        if not path.is_dir():
            raise SigmaError(f"base model folder {str(path)!r} does not exist", hint=hint)
        if not (path / "model_index.json").is_file():
            raise SigmaError(f"{str(path)!r} is not a diffusers pipeline folder (no model_index.json)", hint=hint)
        _check_index(path / "model_index.json", hint)
        kwargs["local_files_only"] = True
        if _is_our_folder(path):  # our own one-line module, nothing remote: no need to ask for trust
            kwargs.setdefault("trust_remote_code", True)
        try:
            return super().from_pretrained(str(path), **kwargs)
        except (OSError, ValueError, TypeError, AttributeError, RuntimeError) as err:
            raise ModelError(f"could not load the base model from {path}: {err}", hint=hint) from None
        except Exception as err:  # noqa: BLE001 - SafetensorError, tokenizers' bare Exception, a KeyError, ...
            first = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
            raise ModelError(f"could not load the base model from {path}: {type(err).__name__}"
                             f"{': ' + first if first else ''} (a file in the folder is damaged or incomplete)",
                             hint=hint) from None

    def save_pretrained(self, save_directory: str | Path, *args: Any, **kwargs: Any) -> None:
        """diffusers' save, plus the one-line module that lets `DiffusionPipeline.from_pretrained(folder,
        trust_remote_code=True)` load the folder back as a SigmaPipeline (diffusers' custom-pipeline convention)."""
        import json

        super().save_pretrained(save_directory, *args, **kwargs)
        folder = Path(save_directory)
        (folder / f"{CUSTOM_MODULE}.py").write_text(_SHIM, encoding="utf-8")
        index_file = folder / "model_index.json"
        index = json.loads(index_file.read_text(encoding="utf-8"))
        index["_class_name"] = [CUSTOM_MODULE, type(self).__name__]
        index_file.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")

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

    # -- diffusers' call-state properties ---------------------------------------------------------------------
    @property
    def guidance_scale(self) -> float:
        return self._guidance_scale

    @property
    def joint_attention_kwargs(self) -> dict[str, Any] | None:
        return self._joint_attention_kwargs

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    @property
    def current_timestep(self) -> Any:
        return self._current_timestep

    @property
    def interrupt(self) -> bool:
        return self._interrupt

    # -- the algorithm ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, prompt: str | list[str] | None = None, prompt_embeds: torch.Tensor | None = None,
                 pooled_prompt_embeds: torch.Tensor | None = None, control_image: Any = None,
                 identity_image: Any = None, height: int | None = None, width: int | None = None,
                 num_inference_steps: int = 28, sigmas: list[float] | None = None, guidance_scale: float = 2.5,
                 generator: torch.Generator | list[torch.Generator] | None = None, cache_conditions: bool = False,
                 output_type: str = "pil", num_images_per_prompt: int = 1, latents: torch.Tensor | None = None,
                 condition_mask: bool | None = None, max_sequence_length: int | None = None,
                 joint_attention_kwargs: dict[str, Any] | None = None,
                 callback_on_step_end: Callable[..., dict] | None = None,
                 callback_on_step_end_tensor_inputs: list[str] | None = None,
                 callback: Callable[[int, int], None] | None = None,
                 return_dict: bool = True) -> SigmaPipelineOutput | tuple:
        """Render one image per batch item from a control map I_C and an identity dictionary I_S.

        The diffusers call conventions hold: `sigmas` replaces the default schedule, `callback_on_step_end(pipe,
        i, t, callback_kwargs)` may return new `latents` / `prompt_embeds` (those named in
        `callback_on_step_end_tensor_inputs`), and setting `pipe._interrupt` skips the remaining steps.
        `joint_attention_kwargs` mean what they mean to diffusers' Flux transformer, so code written for
        `FluxKontextPipeline` runs unchanged: `scale` scales every LoRA; `attention_mask` is an SDPA mask (bool
        True = may attend, or additive float) over SIGMA's sequence [P, X, I_S, I_C], shape (S, S) broadcastable
        to (B, heads, S, S), ANDed with the condition mask when that is on; IP-Adapter inputs are refused (there
        is none: identity comes from I_S); other keys are ignored with a UserWarning. `cache_conditions` computes
        the conditions' keys/values once instead of every step (not with an `attention_mask`); it needs the
        condition mask, which every active LoRA must vouch for in its metadata (`condition_mask` overrides it, for
        tests and trainers). `callback(step, total)` is a plain progress hook.
        """
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        # 1. Check inputs and decide the attention layout.
        tensor_inputs = list(callback_on_step_end_tensor_inputs or ["latents"])
        bad = [k for k in tensor_inputs if k not in self._callback_tensor_inputs]
        if bad:
            raise SigmaError(f"callback_on_step_end_tensor_inputs may name {self._callback_tensor_inputs}, not {bad}")
        if control_image is None or identity_image is None:
            raise SigmaError("SIGMA needs both a control map (I_C) and an identity dictionary (I_S)")
        self.check_input_width()
        if (prompt is None) == (prompt_embeds is None):
            raise SigmaError("pass exactly one of `prompt` and `prompt_embeds`")
        if prompt_embeds is not None and pooled_prompt_embeds is None:
            raise SigmaError("`prompt_embeds` needs `pooled_prompt_embeds` from the same prompt")
        if sigmas is None and num_inference_steps < 1:
            raise SigmaError(f"num_inference_steps must be at least 1, got {num_inference_steps}")
        # stacklevel 3: past __call__ and torch.no_grad's wrapper, so a warning names the user's line
        attention = read_joint_attention_kwargs(joint_attention_kwargs, stacklevel=3)
        if cache_conditions and attention.attention_mask is not None:
            raise SigmaError("joint_attention_kwargs['attention_mask'] cannot be used with cache_conditions: the "
                             "conditions' keys/values are computed once under the condition mask alone, so a mask "
                             "on them could not apply",
                             hint="render without cache_conditions (--cache-conditions) to use an attention_mask")
        mask = self.condition_mask if condition_mask is None else bool(condition_mask)
        if cache_conditions and not mask:
            raise SigmaError(f"--cache-conditions needs a LoRA trained with the condition attention mask, but "
                             f"{self.mask_refusal() or 'the mask is off'}",
                             hint="train with `condition_mask: true`, or render without --cache-conditions")
        self._guidance_scale = guidance_scale
        self._joint_attention_kwargs = joint_attention_kwargs
        self._current_timestep = None
        self._interrupt = False
        lora_scale = attention.scale
        device = self._execution_device
        dtype = self.transformer.dtype

        # 2. Encode the prompt: P tokens from T5, the pooled CLIP vector for the timestep embedding.
        if prompt_embeds is None:
            assert prompt is not None  # exactly one of the two was checked above
            with _lora_scale(self.text_encoder, lora_scale):
                prompt_embeds, pooled_prompt_embeds = self.encode_prompt(
                    prompt, device=device, num_images_per_prompt=num_images_per_prompt,
                    max_sequence_length=max_sequence_length)
        else:
            assert pooled_prompt_embeds is not None  # checked above with prompt_embeds
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
        attention_mask = attention.attention_mask
        if attention_mask is not None:  # checked and merged with the condition mask once, not at every step
            parts = {"P": layout.n_txt, "X": layout.n_x, "I_S": layout.n_s, "I_C": layout.n_c}
            attention_mask = check_attention_mask(attention_mask, parts, batch=batch,
                                                  heads=self.transformer.config.num_attention_heads)
            attention_mask = attention_mask.to(device, dtype if attention_mask.is_floating_point() else None)
            if mask:
                attention_mask = merge_attention_masks(attention_mask, condition_attention_mask(layout, device=device))
        timings["encode_conditions_s"] = time.perf_counter() - t0

        # 4. The noise latent X, (B, n_x, C) tokens on the canvas grid.
        channels = self.transformer.config.in_channels // 4
        if latents is None:
            shape = (batch, channels, layout.x_grid[0] * 2, layout.x_grid[1] * 2)
            latents = pack_latents(randn_tensor(shape, generator=generator, device=device, dtype=dtype))
        latents = latents.to(device=device, dtype=dtype)

        # 5. Timesteps: Flux's shifted schedule from 1 (noise) to 0 (image), shift set by X's token count.
        schedule = np.linspace(1.0, 1.0 / num_inference_steps, num_inference_steps) if sigmas is None else sigmas
        cfg = self.scheduler.config
        mu = calculate_shift(layout.n_x, cfg.get("base_image_seq_len", 256), cfg.get("max_image_seq_len", 4096),
                             cfg.get("base_shift", 0.5), cfg.get("max_shift", 1.15))
        self.scheduler.set_timesteps(sigmas=schedule, device=device, mu=mu)
        self.scheduler.set_begin_index(0)
        timesteps = self.scheduler.timesteps
        self._num_timesteps = len(timesteps)

        # 6. Guidance is an input of the distilled model, not classifier-free guidance.
        guidance = None
        if self.transformer.config.guidance_embeds:
            guidance = torch.full((batch,), guidance_scale, device=device, dtype=torch.float32)

        # 7. The condition cache: conditions alone through every block, once.
        _onload(self.transformer)
        cache = None
        t0 = time.perf_counter()
        with _lora_scale(self.transformer, lora_scale):
            if cache_conditions:
                cache = build_condition_cache(self.transformer, cond_tokens=cond_tokens, cond_ids=ids["cond"],
                                              pooled_projections=pooled_prompt_embeds, guidance=guidance)
            timings["condition_cache_s"] = time.perf_counter() - t0

            # 8. Denoise: predict X's velocity from [P, X, I_S, I_C], Euler step, step callback, repeat.
            t0 = time.perf_counter()
            with self.progress_bar(total=len(timesteps)) as bar:
                for i, t in enumerate(timesteps):
                    if self.interrupt:
                        continue
                    self._current_timestep = t
                    velocity = sigma_forward(
                        self.transformer, hidden_states=latents,
                        cond_tokens=None if cache is not None else cond_tokens,
                        encoder_hidden_states=prompt_embeds, pooled_projections=pooled_prompt_embeds,
                        timestep=(t / 1000).expand(batch).to(dtype), guidance=guidance, txt_ids=ids["txt"],
                        x_ids=ids["x"], cond_ids=ids["cond"], cache=cache, attention_mask=attention_mask,
                        condition_mask=mask and attention_mask is None)  # else merged into attention_mask
                    latents = self.scheduler.step(velocity, t, latents, return_dict=False)[0].to(dtype)
                    if callback_on_step_end is not None:
                        local = {"latents": latents, "prompt_embeds": prompt_embeds}
                        out = callback_on_step_end(self, i, t, {k: local[k] for k in tensor_inputs}) or {}
                        latents = out.get("latents", latents)
                        prompt_embeds = out.get("prompt_embeds", prompt_embeds)
                    bar.update()
                    if callback is not None:
                        callback(i + 1, len(timesteps))
        self._current_timestep = None
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
    def render(self, compiled: CompiledScene, *, prompt_mode: str = "auto", generator: torch.Generator | None = None,
               **kwargs: Any) -> SigmaPipelineOutput:
        """Render a CompiledScene (its I_C, I_S and scene) in one pass per step; without a `generator` the noise
        comes from the scene's seed. A scene with a `background` photo is inserted into it (`feather=` px seam;
        see model/insert.py)."""
        from ..scene.prompts import build_prompt

        if compiled.background is not None:
            from .insert import render_insert

            return render_insert(self, compiled, prompt_mode=prompt_mode, generator=generator, **kwargs)
        scene = compiled.scene
        return cast(SigmaPipelineOutput, self(
            prompt=build_prompt(scene, prompt_mode), control_image=compiled.control, identity_image=compiled.identity,
            height=scene.canvas.height, width=scene.canvas.width, generator=generator or seed_generator(scene.seed),
            **kwargs))

    def render_iterative(self, compiled: CompiledScene, **kwargs: Any) -> SigmaPipelineOutput:
        """The baseline: one subject per pass, far to near, each pass painted into the previous output (into the
        `background` photo first, when the scene has one)."""
        from .iterative import render_iterative

        if compiled.background is not None:
            from .insert import render_insert

            return render_insert(self, compiled, iterative=True, **kwargs)
        return render_iterative(self, compiled, **kwargs)


class _lora_scale:
    """diffusers' `scale_lora_layers` / `unscale_lora_layers` around a block of work (a no-op at 1.0)."""

    def __init__(self, module: Any, scale: float):
        self.module, self.scale = module, scale

    def __enter__(self) -> None:
        if self.scale != 1.0 and self.module is not None:
            from diffusers.utils import scale_lora_layers

            scale_lora_layers(self.module, self.scale)

    def __exit__(self, *exc: Any) -> None:
        if self.scale != 1.0 and self.module is not None:
            from diffusers.utils import unscale_lora_layers

            unscale_lora_layers(self.module, self.scale)
