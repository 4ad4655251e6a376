"""Seconds per training step and peak GPU memory of the SIGMA LoRA trainer, with and without gradient checkpointing.

Runs the trainer's own pieces (`add_lora`, `Denoiser` -> `sigma_forward`, `flow_matching_loss`,
diffusers' `enable_gradient_checkpointing`, Prodigy) on the real-size Flux Kontext transformer (19 double + 38 single
blocks, 3072 wide, 12B parameters) with RANDOM bf16 weights — weights do not change the cost of a dense step — and a
rank-128 LoRA on every attention and MLP projection. One sample per step, as the trainer does, at a 1024x1024 target
with 512x512 identity blocks: X 4096 tokens, I_C 4096, I_S 1024 per subject, text 512. Each row is the median of
`--steps` timed optimizer steps (forward + backward + Prodigy) after `--warmup` steps; memory is the peak
allocated over the row. A row that runs out of memory says OOM.

    python benchmarks/train_step.py                  # GPU: N = 1, 5, 10, checkpointing off/on
    python benchmarks/train_step.py --budget         # CPU, no weights: parameter and optimizer-state bytes
    python benchmarks/train_step.py --tiny           # tiny random model on CPU: checks the script itself
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from sigmascene.train.components import Denoiser, add_lora, lora_parameters
from sigmascene.train.config import TrainConfig
from sigmascene.train.objective import Batch, flow_matching_loss

PX_PER_TOKEN = 16
GIB = 1024 ** 3


def build(tiny: bool, rank: int, device: torch.device):
    """The transformer with a fresh LoRA, exactly as the trainer builds it (base frozen, LoRA fp32)."""
    cfg = TrainConfig(model={"base": "tiny"}, lora={"rank": rank, "alpha": rank})
    if tiny:
        from sigmascene.testing.tiny_pipeline import make_tiny_components

        tr = make_tiny_components(0)["transformer"].to(device)
    else:
        from diffusers import FluxTransformer2DModel

        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.bfloat16)  # straight to bf16 on the GPU, no 48 GB fp32 detour
        try:
            with torch.device(device):
                tr = FluxTransformer2DModel(guidance_embeds=True)  # the FLUX.1 Kontext [dev] configuration
        finally:
            torch.set_default_dtype(previous)
    add_lora(tr, cfg)
    tr.train()
    return tr


def make_batch(tr, n_subjects: int, canvas: int, block: int, n_txt: int, device, dtype) -> Batch:
    from sigmascene.model.layout import make_layout, sequence_ids

    layout = make_layout(n_txt, (canvas, canvas), (n_subjects * block, block))
    ch = tr.config.in_channels
    g = torch.Generator().manual_seed(0)
    def rnd(*s):
        return torch.randn(*s, generator=g).to(device, dtype)
    return Batch(x0=rnd(1, layout.n_x, ch), cond=rnd(1, layout.n_cond, ch),
                 embeds=rnd(1, n_txt, tr.config.joint_attention_dim), pooled=rnd(1, tr.config.pooled_projection_dim),
                 ids=sequence_ids(layout, device=device, dtype=dtype), n_tokens=layout.n_x)


def run_row(tr, optimizer, batch: Batch, *, checkpointing: bool, warmup: int, steps: int, device) -> dict:
    tr.enable_gradient_checkpointing() if checkpointing else tr.disable_gradient_checkpointing()
    model = Denoiser(tr)
    cuda = device.type == "cuda"
    g = torch.Generator().manual_seed(1)
    times = []
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        noise = torch.randn(batch.x0.shape, generator=g).to(device, batch.x0.dtype)
        t = torch.rand(1, generator=g)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = flow_matching_loss(model, batch, noise=noise, t=t, guidance=1.0, condition_mask=False)
            loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() / GIB if cuda else float("nan")
    return {"s_per_step": statistics.median(times), "peak_gib": peak, "loss": float(loss.detach())}


def budget(rank: int) -> None:
    """Bytes that do not depend on activations, from the real configuration built on the meta device."""
    from diffusers import FluxTransformer2DModel

    from sigmascene.train.components import lora_targets
    from sigmascene.train.config import DEFAULT_TARGET

    with torch.device("meta"):
        tr = FluxTransformer2DModel(guidance_embeds=True)
    base = sum(p.numel() for p in tr.parameters())
    lora = 0
    for name in lora_targets(tr, DEFAULT_TARGET):
        m = tr.get_submodule(name)
        lora += rank * (m.in_features + m.out_features)
    print("| item | parameters | GiB |\n|---|---:|---:|")
    print(f"| base transformer, bf16 | {base / 1e9:.2f} B | {2 * base / GIB:.1f} |")
    print(f"| base transformer, fp8 | {base / 1e9:.2f} B | {base / GIB:.1f} |")
    print(f"| LoRA r{rank}, fp32 weights | {lora / 1e6:.0f} M | {4 * lora / GIB:.2f} |")
    print(f"| LoRA fp32 gradients | | {4 * lora / GIB:.2f} |")
    print(f"| Prodigy state (exp_avg, exp_avg_sq, s, p0; fp32) | | {16 * lora / GIB:.2f} |")
    print(f"| total before activations (bf16 base) | | {(2 * base + 24 * lora) / GIB:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny random model on CPU (checks the script)")
    ap.add_argument("--budget", action="store_true", help="print the weight/optimizer memory budget and exit")
    ap.add_argument("--subjects", default=None, help="comma list of N [1,5,10; tiny: 1,2]")
    ap.add_argument("--canvas", type=int, default=None, help="target side in px [1024; tiny: 64]")
    ap.add_argument("--block", type=int, default=None, help="identity block side in px [512; tiny: 32]")
    ap.add_argument("--rank", type=int, default=None, help="LoRA rank [128; tiny: 4]")
    ap.add_argument("--text", type=int, default=None, help="text tokens [512; tiny: 16]")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    a = ap.parse_args()
    tiny = a.tiny
    rank = a.rank or (4 if tiny else 128)
    if a.budget:
        budget(rank)
        return
    device = torch.device("cpu" if tiny or not torch.cuda.is_available() else "cuda")
    if device.type == "cpu" and not tiny:
        sys.exit("no GPU: run with --tiny (script check) or --budget (memory budget), or on a GPU machine")
    subjects = [int(s) for s in (a.subjects or ("1,2" if tiny else "1,5,10")).split(",")]
    canvas, block = a.canvas or (64 if tiny else 1024), a.block or (32 if tiny else 512)
    n_txt = a.text or (16 if tiny else 512)
    dtype = torch.float32 if tiny else torch.bfloat16
    if tiny:
        torch.set_num_threads(1)  # toy matrices: thread start-up dominates, and a busy machine makes it 100x worse
    from prodigyopt import Prodigy

    tr = build(tiny, rank, device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"device: {name}; LoRA r{rank}; canvas {canvas}^2, identity blocks {block}^2, text {n_txt} tokens; "
          f"median of {a.steps} steps after {a.warmup}")
    print("| N | tokens | checkpointing | s/step | peak GiB |\n|---:|---:|:---:|---:|---:|")
    rows = []
    for n in subjects:
        for ckpt in (False, True):
            optimizer = Prodigy(lora_parameters(tr), lr=1.0)
            batch = make_batch(tr, n, canvas, block, n_txt, device, dtype)
            tokens = batch.embeds.shape[1] + batch.x0.shape[1] + batch.cond.shape[1]
            try:
                r = run_row(tr, optimizer, batch, checkpointing=ckpt, warmup=a.warmup, steps=a.steps, device=device)
                mem = f"{r['peak_gib']:.1f}" if device.type == "cuda" else "-"
                cells = f"{r['s_per_step']:.3f} | {mem}"
            except torch.cuda.OutOfMemoryError:
                r, cells = {"s_per_step": None, "peak_gib": None, "oom": True}, "OOM | OOM"
            print(f"| {n} | {tokens} | {'on' if ckpt else 'off'} | {cells} |", flush=True)
            rows.append({"subjects": n, "tokens": tokens, "checkpointing": ckpt, **r})
            del optimizer, batch
            for p in lora_parameters(tr):
                p.grad = None
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    if a.json:
        a.json.write_text(json.dumps({"device": name, "rank": rank, "canvas": canvas, "block": block,
                                      "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
