"""Fixed validation scenes: rendered into a grid every M steps, and scored with a fixed-noise loss.

The training loss jumps with every random timestep, so it cannot show whether a run improves. The validation loss
can: the same examples, the same noise and the same timesteps at every evaluation, so its changes are the model's.
The renders go through `SigmaPipeline`, the inference path users run, built around the live transformer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from .config import TrainConfig
from .objective import Batch, flow_matching_loss
from .samples import Example, SampleBuilder, available_structures
from .watch import grid, routing_picture

VAL_TIMESTEPS = (0.25, 0.5, 0.75)  # the fixed-noise loss averages these noise levels


@dataclass
class ValScene:
    label: str
    prompt: str
    control: np.ndarray
    identity: np.ndarray
    target: np.ndarray | None  # ground truth when the scene came from the dataset


def validation_examples(cfg: TrainConfig, builder: SampleBuilder) -> list[Example]:
    """The first dataset samples, unaugmented, in their most precise structure mode with the background prompt."""
    out = []
    for i in range(min(cfg.validation.samples, len(builder.samples))):
        modes = available_structures(builder.samples[i])
        out.append(builder.build(i, structure=modes[0], prompt_mode="background", augment=False))
    return out


def validation_scenes(cfg: TrainConfig, examples: Sequence[Example]) -> list[ValScene]:
    """What the grid shows: the configured `.sigma` files, else the validation examples with their ground truth."""
    if not cfg.validation.scenes:
        return [ValScene(f"{e.sample_id} {e.structure} n={e.n_subjects}", e.prompt, e.control, e.identity, e.target)
                for e in examples]
    from ..compiler import compile_scene
    from ..grammar import load
    from ..scene.prompts import build_prompt

    out = []
    for rel in cfg.validation.scenes:
        scene = load(cfg.path(rel))
        compiled = compile_scene(scene)
        out.append(ValScene(Path(rel).stem, build_prompt(scene, "auto"), compiled.control, compiled.identity, None))
    return out


def fixed_noise(batch: Batch, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 1000 + k)
    return torch.randn(batch.x0.shape, generator=g).to(batch.x0.device, batch.x0.dtype)


@torch.no_grad()
def validation_loss(model: Any, batches: Sequence[Batch], *, seed: int, guidance: float | None,
                    condition_mask: bool) -> float:
    """Mean flow-matching loss over the validation batches at fixed noise and fixed timesteps."""
    losses = []
    for k, batch in enumerate(batches):
        noise = fixed_noise(batch, k, seed)
        for t in VAL_TIMESTEPS:
            tt = torch.tensor([t])
            losses.append(float(flow_matching_loss(model, batch, noise=noise, t=tt, guidance=guidance,
                                                   condition_mask=condition_mask)))
    return float(np.mean(losses)) if losses else float("nan")


@torch.no_grad()
def render_grid(pipe: Any, scenes: Sequence[ValScene], prompts: Any, *, cfg: TrainConfig, step: int,
                device: Any) -> Image.Image:
    """Render every validation scene with the live LoRA through `pipe` (a SigmaPipeline) into one labelled grid."""
    transformer = pipe.transformer
    was_training = transformer.training
    transformer.eval()
    if hasattr(pipe, "set_progress_bar_config"):  # diffusers' own tqdm bar would interleave with the trainer's
        pipe.set_progress_bar_config(disable=True)
    rows = []
    try:
        for k, sc in enumerate(scenes):
            embeds, pooled = prompts(sc.prompt, device=device)
            gen = torch.Generator("cpu").manual_seed(cfg.validation.seed + k)
            out = pipe(prompt_embeds=embeds, pooled_prompt_embeds=pooled, control_image=sc.control,
                       identity_image=sc.identity, num_inference_steps=cfg.validation.steps,
                       guidance_scale=2.5, generator=gen, condition_mask=cfg.lora.condition_mask,
                       height=sc.control.shape[0], width=sc.control.shape[1])
            rows.append([routing_picture(sc.control), Image.fromarray(sc.identity),
                         None if sc.target is None else Image.fromarray(sc.target), out.images[0]])
    finally:
        transformer.train(was_training)
    return grid(rows, ["routing (IR_asc)", "identity I_S", "ground truth", f"step {step}"],
                title=f"validation at step {step}", row_labels=[s.label for s in scenes])
