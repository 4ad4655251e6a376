"""`sigmascene train`: the SIGMA LoRA training loop, meant to be read top to bottom in one sitting.

    processes (accelerate) -> resume point -> data + curriculum -> Flux Kontext + LoRA -> cached encoders
    -> Prodigy -> restore -> [ sample -> compile -> encode -> flow-matching loss -> step ] -> checkpoints, grids

The same code runs one CPU process on the tiny model and many GPUs under `accelerate launch`: every rank draws its
own slice of the data (curriculum.StageSampler), DDP averages LoRA gradients, rank 0 alone writes checkpoints,
logs and grids. All randomness of step s on rank r comes from a generator seeded by (seed, s, micro, r), so a
resumed run repeats exactly what an uninterrupted one would have done.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SigmaError
from .config import TrainConfig
from .watch import NoteFn, ProgressFn


@dataclass
class RunResult:
    run_dir: Path
    step: int  # optimizer steps completed (all sessions)
    total: int
    lora: Path | None  # the final LoRA, once the curriculum is done
    losses: list[float] = field(default_factory=list)  # this session, per step, mean over ranks
    val_losses: dict[int, float] = field(default_factory=dict)
    resumed_from: int | None = None
    interrupted: bool = False
    transformer: Any = field(default=None, repr=False)  # the trained model (LoRA attached), for notebooks/tests


class StopRequest:
    """SIGINT/SIGTERM ask the loop to checkpoint and stop after the current step; a second Ctrl-C is immediate."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def resume_point(cfg: TrainConfig, resume: str):
    """The checkpoint to continue from (None = fresh run); refuses to mix configs or overwrite a run."""
    from . import checkpoints as ck

    run_dir = cfg.run_dir
    if resume == "never":
        if ck.list_checkpoints(run_dir):
            raise SigmaError(f"{run_dir} already holds checkpoints of a run",
                             hint="continue it with --resume auto, or set run.dir to a new folder")
        return None
    ckpt = ck.latest(run_dir) if resume == "auto" else ck.open_checkpoint(Path(resume))
    if ckpt is not None and ckpt.state.get("config_hash") not in (cfg.config_hash(), cfg.legacy_config_hash()):
        raise SigmaError(f"checkpoint {ckpt.path} was trained with another configuration "
                         f"(hash {ckpt.state.get('config_hash')}, this config {cfg.config_hash()})",
                         hint="resume with the run's own config.toml, or set run.dir to a new folder")
    return ckpt


def lr_factor(warmup: int, decay: str, total: int, step: int) -> float:
    """Learning-rate multiplier at optimizer step `step` (0-based): linear warmup, then constant or a decay that
    reaches 0 after the last of `total` steps."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if decay == "constant":
        return 1.0
    frac = min(1.0, (step + 1 - warmup) / max(1, total - warmup))
    return 1.0 - frac if decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * frac))


def lora_digest(transformer: Any) -> str:
    """A hash of the trainable weights: equal on every rank when DDP kept them in sync."""
    import hashlib

    h = hashlib.sha256()
    for name, p in transformer.named_parameters():
        if p.requires_grad:
            h.update(name.encode())
            h.update(p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def _write_text_atomic(path: Path, text: str) -> None:
    from ..core.files import write_text_atomic

    write_text_atomic(path, text)


def train(cfg: TrainConfig, *, resume: str = "auto", progress: ProgressFn | bool | None = None,
          note: NoteFn | None = None) -> RunResult:
    """Train (or continue) the run `cfg` describes. `progress(what, done, total, fields)` and `note(text)` are how
    the caller shows the run (the command line: a bar or log lines); a bool `progress` means no callback."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import gather_object

    from ..data.io import load_dataset
    from .config_file import check_data_root, check_run_dir_keeps_the_config
    from ..model.lora import save_sigma_lora
    from ..model.pipeline import SigmaPipeline
    from . import checkpoints as ck
    from .cache import LatentEncoder, PromptEncoder, encode_example
    from .components import DTYPES, Denoiser, add_lora, load_components, lora_parameters, restore_lora
    from .curriculum import Curriculum, SamplerState, StageSampler
    from .objective import flow_matching_loss, sample_timesteps, subject_token_weights
    from .samples import SampleBuilder
    from .validation import ValScene, render_grid, validation_examples, validation_loss, validation_scenes
    from .watch import Watch, print_note, save_grid

    progress = None if isinstance(progress, bool) else progress
    note = note or print_note

    # 0. Processes: one per GPU under `accelerate launch`; without CUDA, fp32 on CPU (gloo between processes).
    on_gpu = torch.cuda.is_available()
    accelerator = Accelerator(mixed_precision=cfg.model.mixed_precision if on_gpu else "no", cpu=not on_gpu)
    rank, world, main = accelerator.process_index, accelerator.num_processes, accelerator.is_main_process
    device = accelerator.device
    weight_dtype = DTYPES[cfg.model.weight_dtype] if on_gpu else torch.float32
    run_dir = cfg.run_dir
    seed = cfg.run.seed

    # 1. Where to start: the newest good checkpoint of this run folder, or nothing.
    check_run_dir_keeps_the_config(cfg)
    if main:
        ck.sweep(run_dir)
    accelerator.wait_for_everyone()
    ckpt = resume_point(cfg, resume)
    if cfg.lora_init is not None and not cfg.lora_init.is_file():  # before minutes of model loading
        raise SigmaError(f"lora.init: {cfg.lora_init} does not exist",
                         hint="name a .safetensors written by `sigmascene train`, or leave lora.init empty")

    # 2. Data: the samples, the curriculum over their subject counts, and the sample -> example builder.
    check_data_root(cfg)
    samples = load_dataset(cfg.data_root)
    curriculum = Curriculum(cfg.curriculum.stages)
    sampler = StageSampler(curriculum, [len(s.subjects) for s in samples], seed=seed, rank=rank, world=world)
    builder = SampleBuilder(cfg.data_root, samples, cfg.data, work_dir=cfg.cache_dir / "augment")
    total = curriculum.total_steps
    if main:  # only now that the data is known to be usable
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_text_atomic(run_dir / "config.toml", cfg.resolved().to_toml())  # absolute paths: self-contained

    # 3. Model: frozen Flux Kontext, a fresh fp32 LoRA on the configured projections.
    parts = load_components(cfg)
    for name in ("vae", "text_encoder", "text_encoder_2", "transformer"):
        module = parts[name].requires_grad_(False).eval()
        dtype = torch.float32 if name == "vae" and weight_dtype == torch.float16 else weight_dtype  # fp16 VAE overflows
        if module.dtype == dtype:  # `.to(dtype)` on a diffusers model warns even when it changes nothing
            module.to(device)
        else:
            module.to(device, dtype)
    transformer = parts["transformer"]
    torch.manual_seed(seed)  # the LoRA's initial weights: one seed for every rank (DDP also broadcasts them)
    add_lora(transformer, cfg)
    transformer.train()
    if cfg.model.gradient_checkpointing:  # diffusers' flag; sigma_forward recomputes each block in backward
        transformer.enable_gradient_checkpointing()
    random.seed(seed + rank)  # from here each rank has global RNG streams of its own (dropout, anything else)
    np.random.seed(seed + rank)
    torch.manual_seed(seed + rank)
    pipe = SigmaPipeline(**parts)  # inference's own object: prompt encoding and validation renders
    lora_meta: dict[str, Any] = {"rank": cfg.lora.rank, "alpha": cfg.lora.alpha,
                                 "condition_mask": cfg.lora.condition_mask, "config_hash": cfg.config_hash()}

    # 4. Encoders behind content-hash caches; with the text cache on, every prompt is encoded once, up front
    #    (each rank a slice), and T5/CLIP are freed: they are the largest thing in memory after the transformer.
    latents = LatentEncoder(parts["vae"], cfg.cache_dir if cfg.cache.latents else None,
                            vae_scale_factor=pipe.vae_scale_factor)
    prompts = PromptEncoder(pipe, cfg.cache_dir if cfg.cache.text else None,
                            max_sequence_length=cfg.model.max_sequence_length, dtype=weight_dtype)
    validating = cfg.run.validate_every > 0
    val_examples = validation_examples(cfg, builder) if validating and main else []
    val_scenes: list[ValScene] = validation_scenes(cfg, val_examples) if validating and main else []
    if cfg.cache.text:
        # Sliced over the processes of this node, so a node-local cache folder also ends up complete.
        local_rank = accelerator.local_process_index
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        every = sorted({p for i in range(len(samples)) for p in builder.prompts(i)})[local_rank::local_world]
        done = [0]

        def advance() -> None:
            done[0] += 1
            if progress is not None and main:
                progress("caching prompt embeddings", done[0], len(every), {})

        prompts.ensure_cached(every, device=device, advance=advance)
        prompts.ensure_cached([v.prompt for v in val_scenes] + [e.prompt for e in val_examples], device=device)
        accelerator.wait_for_everyone()
        pipe.register_modules(text_encoder=None, text_encoder_2=None)
        parts["text_encoder"] = parts["text_encoder_2"] = None
        if on_gpu:
            torch.cuda.empty_cache()
    val_batches = [encode_example(e, latents, prompts, device=device, dtype=weight_dtype) for e in val_examples]

    # 5. Optimizer: Prodigy (lr 1.0: it finds the step size), linear warmup; DDP around the denoiser.
    params = lora_parameters(transformer)
    if cfg.optim.optimizer == "prodigy":
        from prodigyopt import Prodigy

        optimizer = Prodigy(params, lr=cfg.optim.lr, betas=cfg.optim.betas, weight_decay=cfg.optim.weight_decay,
                            use_bias_correction=cfg.optim.use_bias_correction,
                            safeguard_warmup=cfg.optim.safeguard_warmup, d_coef=cfg.optim.d_coef)
    else:
        optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, betas=cfg.optim.betas,
                                      weight_decay=cfg.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(lr_factor, cfg.optim.warmup_steps,
                                                                      cfg.optim.decay, total))
    denoiser = Denoiser(transformer)
    model, optimizer = accelerator.prepare(denoiser, optimizer)  # the scheduler steps once per optimizer step

    # 6. Restore everything a checkpoint holds: LoRA, optimizer, scheduler, RNG, step, stage and data position.
    step = 0
    if ckpt is None and cfg.lora_init is not None:  # a resumed run's checkpoint already holds what init gave
        restore_lora(transformer, cfg.lora_init, rank=cfg.lora.rank)
    if ckpt is not None:
        restore_lora(transformer, ckpt.lora_path)
        optimizer.load_state_dict(ckpt.load(ck.OPTIMIZER))
        scheduler.load_state_dict(ckpt.load(ck.SCHEDULER))
        rngs = ckpt.load(ck.RNG)
        if len(rngs) == world:
            ck.restore_rng(rngs[rank])
        step = ckpt.step
        sampler.state = SamplerState.from_json(ckpt.state["sampler"])
    result = RunResult(run_dir, step, total, None, resumed_from=None if ckpt is None else ckpt.step)
    watch = Watch(run_dir, total=total, start=step, enabled=main, progress=progress, note=note)
    if ckpt is not None:
        watch.note(f"resuming from {ckpt.path.name}: step {step}, "
                   f"{curriculum.label(curriculum.stage_index(step))}")
    guidance = cfg.model.guidance if transformer.config.guidance_embeds else None
    stage_ends = {curriculum.stage_end(i) for i in range(len(curriculum.stages))}
    accum = cfg.optim.grad_accum

    def save(at: int) -> None:
        rngs = gather_object([ck.capture_rng()])
        if main:
            state = {"stage": curriculum.stage_index(max(at - 1, 0)), "sampler": sampler.state.to_json(),
                     "config_hash": cfg.config_hash(), "world_size": world, "total_steps": total,
                     "loss": result.losses[-1] if result.losses else None}
            ck.save_checkpoint(run_dir, at, transformer=transformer, lora=lora_meta,
                               optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(), rng=rngs,
                               state=state, keep=cfg.run.keep_checkpoints)
        accelerator.wait_for_everyone()

    skipped: set[int] = set()

    def next_example(stage: int, rng: np.random.Generator):
        """The sampler's next sample as an Example; one the compiler rejects is reported once and skipped."""
        for _ in range(10):
            index = sampler.next(stage)
            try:
                return builder.build(index, rng)
            except SigmaError as err:
                if index not in skipped:
                    skipped.add(index)
                    who = f"[rank {rank}] " if world > 1 else ""
                    note(f"{who}skipping sample '{samples[index].id}' (index.jsonl line "
                         f"{samples[index].line}): {err.diagnostics[0].message}")
        raise SigmaError(f"10 samples in a row failed to compile (last: '{samples[index].id}')",
                         hint="check the dataset with `sigmascene data validate`")

    def validate(at: int) -> None:
        if main:
            with accelerator.autocast():
                vl = validation_loss(denoiser, val_batches, seed=cfg.validation.seed, guidance=guidance,
                                     condition_mask=cfg.lora.condition_mask)
                picture = render_grid(pipe, val_scenes, prompts, cfg=cfg, step=at, device=device)
            result.val_losses[at] = vl
            watch.scalar("val/loss", vl, at)
            watch.image("val/grid", picture, at)
            save_grid(picture, run_dir, at)
        accelerator.wait_for_everyone()

    # 7. The loop.
    if validating and step == 0:
        validate(0)
    with StopRequest() as stop:
        while step < total:
            stage = curriculum.stage_index(step)
            model.train()
            loss_sum, t0 = 0.0, time.perf_counter()
            for micro in range(accum):
                rng = np.random.default_rng([seed, step, micro, rank])
                example = next_example(stage, rng)
                batch = encode_example(example, latents, prompts, device=device, dtype=weight_dtype)
                if cfg.loss.subject_weight != 1.0:
                    batch.weight = subject_token_weights(example.control, 2 * latents.vae_scale_factor,
                                                         cfg.loss.subject_weight)
                gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
                noise = torch.randn(batch.x0.shape, generator=gen).to(device, weight_dtype)
                t = sample_timesteps(1, scheme=cfg.loss.timesteps, n_tokens=batch.n_tokens,
                                     scheduler_config=parts["scheduler"].config, mean=cfg.loss.logit_mean,
                                     std=cfg.loss.logit_std, generator=gen)
                sync = micro == accum - 1  # DDP all-reduces gradients only on the last micro-step
                with nullcontext() if sync else accelerator.no_sync(model):
                    loss = flow_matching_loss(model, batch, noise=noise, t=t, guidance=guidance,
                                              condition_mask=cfg.lora.condition_mask)
                    accelerator.backward(loss / accum)
                loss_sum += float(loss.detach())
            if cfg.optim.max_grad_norm > 0:
                accelerator.clip_grad_norm_(params, cfg.optim.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1

            # Every rank agrees on the step's loss and on whether to stop (a signal reached any of them).
            agg = accelerator.reduce(torch.tensor([loss_sum / accum, float(stop.requested)], device=device), "sum")
            mean_loss, stopping = float(agg[0]) / world, float(agg[1]) > 0
            result.losses.append(mean_loss)
            group = optimizer.param_groups[0]
            scalars = {"train/lr": group["lr"], "train/step_seconds": time.perf_counter() - t0,
                       "train/stage": stage + 1, "train/subjects": example.n_subjects}
            if world == 1:  # what the last example was (with several ranks it is rank 0's alone)
                scalars["train/sample"] = example.index
            if "d" in group:
                scalars["train/prodigy_d"] = float(group["d"])
            watch.step(step, loss=mean_loss, stage=curriculum.label(stage), scalars=scalars,
                       log=step % cfg.run.log_every == 0 or step == total)
            if step % cfg.run.checkpoint_every == 0 or step in stage_ends or stopping:
                save(step)
            if validating and (step % cfg.run.validate_every == 0 or step == total):
                validate(step)
            if stopping:
                result.interrupted = True
                watch.note(f"stopped at step {step} of {total}; checkpoint saved in {run_dir}")
                break

    # 8. The deliverable: the final LoRA with its metadata, and a summary of the run.
    result.step = step
    result.transformer = transformer
    digests = gather_object([lora_digest(transformer)])
    if len(set(digests)) > 1:
        watch.note(f"warning: ranks ended with different LoRA weights ({len(set(digests))} versions)")
    if main and step >= total:
        with ck.writing(run_dir / "lora.safetensors"):
            result.lora = save_sigma_lora(run_dir / "lora.safetensors", transformer, **lora_meta)
        summary = {"steps": step, "config_hash": cfg.config_hash(), "lora": str(result.lora),
                   "final_loss": result.losses[-1] if result.losses else None,
                   "val_losses": {str(k): v for k, v in result.val_losses.items()}, "world_size": world,
                   "ranks_in_sync": len(set(digests)) == 1}
        _write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
        outcome = "done" if result.losses else "already complete"
        watch.note(f"{outcome}: {step} steps, LoRA at {result.lora}")
    elif step >= total:
        result.lora = run_dir / "lora.safetensors"
    watch.close()
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return result
