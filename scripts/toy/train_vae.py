"""Train the demo model's VAE from scratch on synthetic-world pictures, reproducibly from a seed.

The VAE encodes three kinds of picture in SIGMA: target scenes, identity images (objects on white) and control
maps I_C (routing labels and encoded depth), so it is trained on all three. The loss is L1 + MSE reconstruction
with a small KL term; afterwards the latent statistics set `shift_factor` and `scaling_factor` in its config the
way Flux's are set, so latents enter the transformer at unit scale.

`--init DIR --decoder-only` continues a trained VAE's decoder on scenes alone, with its encoder, latent
normalisation and so its latent space frozen: a transformer trained on that VAE's latents stays valid, while
the pictures it renders come out sharper. Only X is ever decoded, so identity images and control maps (which
are only encoded) are left out of that stage.

    python scripts/toy/train_vae.py --data /tmp/toy/data128 --out /tmp/toy/vae --steps 700
    python scripts/toy/train_vae.py --data /tmp/toy/data128 --out /tmp/toy/vae2 --init /tmp/toy/vae --decoder-only
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_common import SIZE, load_rgb, log, make_vae, read_index, seed_all


def control_maps(root: Path, rows: list[dict], count: int, rng: random.Random) -> list[np.ndarray]:
    """I_C of `count` samples in random structure modes, compiled by the real compiler and resized like training."""
    from PIL import Image

    import sigmascene
    from sigmascene.data.schema import Sample
    from sigmascene.data.to_scene import sample_to_scene

    out = []
    for r in rng.sample(rows, count):
        mode = rng.choice(["box2d", "mask_depth", "mask_depth", "box3d_depth"])
        compiled = sigmascene.compile(sample_to_scene(Sample.model_validate(r), root, mode))
        im = Image.fromarray(compiled.control).resize((SIZE, SIZE), Image.NEAREST)
        out.append(np.asarray(im, dtype=np.uint8))
    return out


def load_pictures(root: Path, count: int, n_control: int, seed: int, scenes_only: bool = False) -> np.ndarray:
    from rich.progress import track

    rng = random.Random(seed)
    rows = read_index(root, count)
    pics = [load_rgb(root / r["image"], SIZE) for r in track(rows, description="scenes", transient=True)]
    if scenes_only:
        return np.stack(pics)
    idents = [root / s["identity"] for r in rows for s in r["subjects"]]
    for p in track(rng.sample(idents, min(count, len(idents))), description="identities", transient=True):
        pics.append(load_rgb(p, SIZE))
    pics += control_maps(root, rows, n_control, rng)
    return np.stack(pics)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="synth dataset (sigmascene data synth --size 128)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--count", type=int, default=3000, help="training samples: indices 0..count-1")
    ap.add_argument("--controls", type=int, default=600)
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init", type=Path, help="a trained VAE folder to continue from")
    ap.add_argument("--decoder-only", action="store_true",
                    help="with --init: train the decoder on scenes; encoder and latent normalisation stay fixed")
    args = ap.parse_args()
    if args.decoder_only and args.init is None:
        ap.error("--decoder-only continues a trained VAE: pass --init DIR")

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    seed_all(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    logf = args.out / "train_log.txt"
    t0 = time.time()
    pictures = load_pictures(args.data, args.count, args.controls, args.seed, scenes_only=args.decoder_only)
    data = torch.from_numpy(pictures).permute(0, 3, 1, 2)
    log(f"{len(data)} pictures loaded in {time.time() - t0:.0f} s", logf)

    if args.init is not None:
        from diffusers import AutoencoderKL

        vae = AutoencoderKL.from_pretrained(args.init).train()
    else:
        vae = make_vae().train()
    if args.decoder_only:
        for module in (vae.encoder, vae.quant_conv):
            if module is not None:
                module.requires_grad_(False).eval()
    trainable = [p for p in vae.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    hist = []
    for step in range(1, args.steps + 1):
        idx = torch.randint(len(data), (args.batch,), generator=gen)
        x = data[idx].float() / 127.5 - 1.0
        if step % 2:  # flips are free augmentation; the synthetic world has no handedness
            x = x.flip(3)
        if args.decoder_only:  # the latents the transformer is trained on and produces: the posterior mode
            with torch.no_grad():
                z, kl = vae.encode(x).latent_dist.mode(), 0.0
        else:
            post = vae.encode(x).latent_dist
            z, kl = post.sample(generator=gen), 1e-6 * post.kl().mean()
        rec = vae.decode(z).sample
        l1 = (rec - x).abs().mean()
        loss = l1 + F.mse_loss(rec, x) + kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        sched.step()
        hist.append(l1.item())
        if step % 25 == 0 or step == 1:
            log(f"step {step}/{args.steps} l1 {np.mean(hist[-25:]):.4f} ({(time.time() - t0) / step:.2f} s/step)", logf)

    vae.eval()
    with torch.no_grad():  # Flux-style latent normalisation: (z - shift) * scale has mean 0, std 1
        sample = data[torch.randperm(len(data), generator=gen)[:256]].float() / 127.5 - 1.0
        z = torch.cat([vae.encode(b).latent_dist.mode() for b in sample.split(32)])
        recon = torch.cat([vae.decode(b).sample for b in z.split(32)])
        l1 = (recon - sample).abs().mean().item()
    shift, scale = z.mean().item(), 1.0 / z.std().item()
    if args.decoder_only:  # the latent space is the initial VAE's; its normalisation must not move
        shift, scale = vae.config.shift_factor, vae.config.scaling_factor
    vae.register_to_config(shift_factor=round(shift, 4), scaling_factor=round(scale, 4))
    vae.save_pretrained(args.out)
    stats = {"steps": args.steps, "init": str(args.init) if args.init else None, "decoder_only": args.decoder_only,
             "first_l1": float(np.mean(hist[:25])), "last_l1": float(np.mean(hist[-25:])),
             "mode_l1_on_256_training_pictures": l1,
             "psnr_db": float(10 * np.log10(4 / ((recon - sample) ** 2).mean().item())),
             "shift_factor": shift, "scaling_factor": scale, "seconds": time.time() - t0, "pictures": len(data)}
    (args.out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    log(f"done: {json.dumps(stats)}", logf)


if __name__ == "__main__":
    main()
