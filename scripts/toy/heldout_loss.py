"""Does the SIGMA LoRA use the maps? Flow-matching loss on held-out samples with the LoRA on vs off.

The same held-out samples (another world seed than training), the same noise and timesteps, each structure mode,
three ways: base alone (LoRA scale 0), base + LoRA, and base + LoRA given the maps of ANOTHER sample. The LoRA
helping at all shows it learned the token layout; the right maps beating another sample's shows it reads them.
Each is reported over all X tokens and over the tokens at least half covered by subjects, where the maps matter.

    python scripts/toy/heldout_loss.py --data /tmp/toy/held --base /tmp/toy/base --lora /tmp/toy/lora/lora.safetensors
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="held-out synth set (e.g. --seed 7)")
    ap.add_argument("--base", type=Path, required=True)
    ap.add_argument("--lora", type=Path, required=True)
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()

    import torch
    from PIL import Image

    import sigmascene
    from sigmascene.data.schema import Sample
    from sigmascene.data.to_scene import STRUCTURES, sample_to_scene
    from sigmascene.model.forward import sigma_forward
    from sigmascene.model.layout import encode_conditions, encode_image_latents, make_layout, pack_latents, \
        prepare_condition_image, sequence_ids
    from sigmascene.model.loading import load_pipeline
    from sigmascene.scene.prompts import build_prompt
    from sigmascene.scene import Canvas
    from sigmascene.train.objective import subject_token_weights

    torch.set_num_threads(1)
    pipe = load_pipeline(args.base, args.lora, device="cpu", dtype="fp32")
    rows = [json.loads(x) for x in (args.data / "index.jsonl").read_text().splitlines() if x.strip()][:args.count]
    g = torch.Generator().manual_seed(0)
    ts = torch.tensor([0.2, 0.4, 0.6, 0.8])
    variants = ("lora", "base", "lora_other_maps")
    losses = {m: {k: [] for k in variants} for m in STRUCTURES}
    on_subjects = {m: {k: [] for k in variants} for m in STRUCTURES}  # tokens at least half covered by subjects
    previous: dict = {}
    with torch.no_grad():
        for r in rows:
            sample = Sample.model_validate(r)
            target = Image.open(args.data / r["image"]).convert("RGB").resize((args.size, args.size), Image.LANCZOS)
            x0 = pack_latents(encode_image_latents(pipe.vae, prepare_condition_image(target)))
            noise = torch.randn(x0.shape, generator=g)
            for mode in STRUCTURES:
                scene = sample_to_scene(sample, args.data, mode)
                scene.canvas = Canvas(width=args.size, height=args.size)
                compiled = sigmascene.compile(scene)
                covered = subject_token_weights(compiled.control, 2 * pipe.vae_scale_factor, 2.0)[0, :, 0] >= 1.5
                cond, canvas, ident_hw = encode_conditions(pipe.vae, compiled.control, compiled.identity,
                                                           canvas_hw=(args.size, args.size),
                                                           vae_scale_factor=pipe.vae_scale_factor)
                embeds, pooled = pipe.encode_prompt(build_prompt(scene, "background"), device=torch.device("cpu"),
                                                    max_sequence_length=64)
                ids = sequence_ids(make_layout(embeds.shape[1], canvas, ident_hw, pipe.vae_scale_factor))
                if mode not in previous:  # the first sample only lends its maps to the second
                    previous[mode] = (cond, ids)
                    continue
                runs = [("lora", 1.0, cond, ids), ("base", 0.0, cond, ids), ("lora_other_maps", 1.0, *previous[mode])]
                previous[mode] = (cond, ids)
                for which, scale, cond, ids in runs:
                    pipe.transformer.set_adapters(["sigma"], weights=[scale])
                    for t in ts:
                        xt = (1 - t) * x0 + t * noise
                        v = sigma_forward(pipe.transformer, hidden_states=xt, cond_tokens=cond,
                                          encoder_hidden_states=embeds, pooled_projections=pooled,
                                          timestep=t.view(1), guidance=None, txt_ids=ids["txt"], x_ids=ids["x"],
                                          cond_ids=ids["cond"], condition_mask=False)
                        err = ((v - (noise - x0)) ** 2).mean(dim=-1)[0]
                        losses[mode][which].append(err.mean().item())
                        if covered.any():
                            on_subjects[mode][which].append(err[covered].mean().item())
    def mean(table):
        return {m: {k: float(np.mean(v)) for k, v in d.items()} for m, d in table.items()}
    print(json.dumps({"samples": len(rows) - 1, "timesteps": ts.tolist(), "mean_mse": mean(losses),
                      "mean_mse_subject_tokens": mean(on_subjects)}, indent=2))


if __name__ == "__main__":
    main()
