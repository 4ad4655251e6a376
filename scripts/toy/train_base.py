"""Train the demo base from scratch: a small Flux-architecture transformer, rectified flow, synthetic world.

Like Flux.1 Kontext, the base is an in-context model: half of the steps are plain text-to-image, half also see
one context picture — the identity image of one subject of the scene — as clean tokens with RoPE axis 0 = 1
(Kontext's "another picture" convention, the one SIGMA's I_S uses). So the base already attends to context
tokens, and the SIGMA LoRA only has to learn the layout [P, X, I_S, I_C]: which block goes where. The forward
is `sigmascene.model.forward.sigma_forward`, the one inference runs; the objective is the trainer's (Flux's
logit-normal timesteps with the resolution shift, MSE on the velocity noise - x0). The saved weights are an EMA.

    python scripts/toy/train_base.py --data /tmp/toy/data128 --vae /tmp/toy/vae --out /tmp/toy/base --steps 1000
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_common import (SIZE, load_rgb, log, make_scheduler, make_text_components, make_transformer,
                        read_index, seed_all)


def encode_images(vae, pics: np.ndarray, batch: int = 64):
    """Flux-normalised, packed clean latents (the posterior mode) of uint8 pictures."""
    import torch

    from sigmascene.model.layout import encode_image_latents, pack_latents

    out = []
    for b in torch.from_numpy(pics).permute(0, 3, 1, 2).split(batch):
        out.append(pack_latents(encode_image_latents(vae, b.float() / 127.5 - 1.0)))
    return torch.cat(out)


def encode_texts(text, prompts: list[str], batch: int = 128):
    import torch

    embeds, pooled = [], []
    with torch.no_grad():
        for i in range(0, len(prompts), batch):
            chunk = prompts[i:i + batch]
            ids = text["tokenizer"](chunk, padding="max_length", max_length=text["tokenizer"].model_max_length,
                                    truncation=True, return_tensors="pt").input_ids
            pooled.append(text["text_encoder"](ids).pooler_output)
            ids2 = text["tokenizer_2"](chunk, padding="max_length", max_length=text["tokenizer_2"].model_max_length,
                                       truncation=True, return_tensors="pt").input_ids
            embeds.append(text["text_encoder_2"](ids2)[0])
    return torch.cat(embeds), torch.cat(pooled)


def prepare(args, vae, text) -> dict:
    """Everything the loop needs as tensors: target latents, identity latents, prompt embeddings."""
    import torch
    from rich.progress import track

    rows = read_index(args.data, args.count)
    pics = np.stack([load_rgb(args.data / r["image"], SIZE) for r in track(rows, description="scenes", transient=True)])
    owners, idents = [], []
    for k, r in enumerate(rows):
        for s in r["subjects"]:
            owners.append(k)
            idents.append(args.data / s["identity"])
    ident_pics = np.stack([load_rgb(p, SIZE // 2) for p in track(idents, description="identities", transient=True)])
    with torch.no_grad():
        x0 = encode_images(vae, pics)
        ctx = encode_images(vae, ident_pics)
    prompts = [r["prompts"]["background"] for r in rows] + [r["prompts"].get("full") or r["prompts"]["background"]
                                                            for r in rows]
    embeds, pooled = encode_texts(text, prompts)
    n = len(rows)
    first_ident = np.zeros(n + 1, dtype=np.int64)  # identities of sample k: first_ident[k]..first_ident[k+1]-1
    np.add.at(first_ident, np.asarray(owners) + 1, 1)
    return {"x0": x0, "ctx": ctx, "first": torch.from_numpy(np.cumsum(first_ident)), "embeds": embeds,
            "pooled": pooled, "n": n}


def forward(model, x_t, t, embeds, pooled, ctx):
    import torch

    from sigmascene.model.layout import grid_ids, text_ids

    side = SIZE // 8  # tokens per side: 4x VAE, 2x2 patches
    cond_ids = None if ctx is None else grid_ids(side // 2, side // 2, 1)
    return model_forward(model, x_t, t, embeds, pooled, ctx, text_ids(embeds.shape[1]), grid_ids(side, side, 0),
                         cond_ids if cond_ids is not None else torch.zeros(0, 3))


def model_forward(model, x_t, t, embeds, pooled, ctx, txt_ids, x_ids, cond_ids):
    from sigmascene.model.forward import sigma_forward

    return sigma_forward(model, hidden_states=x_t, cond_tokens=ctx, encoder_hidden_states=embeds,
                         pooled_projections=pooled, timestep=t, guidance=None, txt_ids=txt_ids, x_ids=x_ids,
                         cond_ids=cond_ids, condition_mask=False)


def preview(model, vae, data, path: Path, steps: int = 20, n: int = 8) -> None:
    """Euler samples of the first n training prompts, half with their first identity as context, as one strip."""
    import torch
    from PIL import Image

    from sigmascene.model.layout import unpack_latents
    from sigmascene.model.pipeline import calculate_shift

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, data["x0"].shape[1], data["x0"].shape[2], generator=g)
    mu = calculate_shift(data["x0"].shape[1])
    sig = np.linspace(1.0, 1.0 / steps, steps)
    sig = np.exp(mu) / (np.exp(mu) + (1 / sig - 1))
    sig = np.append(sig, 0.0)
    idx = torch.arange(n)
    ctx = data["ctx"][data["first"][idx]]
    with torch.no_grad():
        for i in range(steps):
            t = torch.full((n,), float(sig[i]))
            v_plain = forward(model, x[: n // 2], t[: n // 2], data["embeds"][idx[: n // 2] + data["n"]],
                              data["pooled"][idx[: n // 2] + data["n"]], None)
            v_ctx = forward(model, x[n // 2:], t[n // 2:], data["embeds"][idx[n // 2:] + data["n"]],
                            data["pooled"][idx[n // 2:] + data["n"]], ctx[n // 2:])
            x = x + (sig[i + 1] - sig[i]) * torch.cat([v_plain, v_ctx])
        lat = unpack_latents(x, (SIZE // 8, SIZE // 8)) / vae.config.scaling_factor + vae.config.shift_factor
        img = ((vae.decode(lat).sample.clamp(-1, 1) + 1) * 127.5).byte().permute(0, 2, 3, 1).numpy()
    Image.fromarray(np.concatenate(list(img), axis=1)).save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--vae", type=Path, required=True, help="folder written by train_vae.py")
    ap.add_argument("--out", type=Path, required=True, help="the diffusers pipeline folder to write")
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument("--context-prob", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    from diffusers import AutoencoderKL

    from sigmascene.model.pipeline import SigmaPipeline
    from sigmascene.train.objective import sample_timesteps

    torch.set_num_threads(args.threads)
    seed_all(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    logf = args.out.parent / f"{args.out.name}_log.txt"
    vae = AutoencoderKL.from_pretrained(args.vae).eval().requires_grad_(False)
    text = make_text_components(args.seed + 100)
    t0 = time.time()
    data = prepare(args, vae, text)
    log(f"{data['n']} scenes, {len(data['ctx'])} identities, prompts encoded in {time.time() - t0:.0f} s", logf)

    torch.manual_seed(args.seed)
    model = make_transformer().train()
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    log(f"transformer: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters", logf)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.01)
    warm = min(100, args.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
    g = torch.Generator().manual_seed(args.seed)
    n_tok = data["x0"].shape[1]
    hist: list[float] = []
    t0 = time.time()
    for step in range(1, args.steps + 1):
        idx = torch.randint(data["n"], (args.batch,), generator=g)
        full = torch.rand(args.batch, generator=g) < 0.5  # background or full prompt
        tidx = idx + full.long() * data["n"]
        ctx = None
        if torch.rand(1, generator=g).item() < args.context_prob:
            first, last = data["first"][idx], data["first"][idx + 1]
            pick = first + (torch.rand(args.batch, generator=g) * (last - first)).long()
            ctx = data["ctx"][pick]
        x0 = data["x0"][idx]
        noise = torch.randn(x0.shape, generator=g)
        t = torch.as_tensor(sample_timesteps(args.batch, scheme="flux", n_tokens=n_tok, generator=g),
                            dtype=torch.float32)
        tt = t.view(-1, 1, 1)
        v = forward(model, (1 - tt) * x0 + tt * noise, t, data["embeds"][tidx], data["pooled"][tidx], ctx)
        loss = torch.nn.functional.mse_loss(v, noise - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        d = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - d)
        hist.append(loss.item())
        if step % 25 == 0 or step == 1:
            log(f"step {step}/{args.steps} loss {np.mean(hist[-25:]):.4f} "
                f"({(time.time() - t0) / step:.2f} s/step)", logf)

    seconds = time.time() - t0
    preview(ema, vae, data, args.out.parent / f"{args.out.name}_samples.png")
    pipe = SigmaPipeline(scheduler=make_scheduler(), vae=vae, transformer=ema.to(torch.float16), **text)
    pipe.save_pretrained(args.out)
    stats = {"steps": args.steps, "batch": args.batch, "first_loss": float(np.mean(hist[:25])),
             "last_loss": float(np.mean(hist[-25:])), "seconds": seconds, "scenes": data["n"]}
    (args.out.parent / f"{args.out.name}_stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    log(f"done: {json.dumps(stats)}", logf)


if __name__ == "__main__":
    main()
