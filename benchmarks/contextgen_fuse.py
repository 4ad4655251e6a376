"""Fuse ContextGen's rank-512 LoRA into the base, or keep it as PEFT layers? Measured on the tiny model (CPU),
counted for the real one.

* measured: seconds per denoising step of ContextGenPipeline with the LoRA unfused (PEFT layers, as ContextGen's
  inference runs it) and fused (diffusers' `fuse_lora`, then the adapter unloaded), and how far the fused final
  latents move from the unfused ones (relative L2), on the tiny random model with a rank-512 adapter in
  ContextGen's format;
* counted: the adapter's parameters and its extra multiply-adds per token on FLUX.1 Kontext [dev] (19 double and
  38 single blocks, width 3072, built on the meta device), i.e. what fusing saves there.

Usage: python benchmarks/contextgen_fuse.py [--steps 2] [--rank 512]
"""

from __future__ import annotations

import argparse
import time


def counted(rank: int = 512) -> tuple[int, int, int]:
    """(adapter parameters, extra MACs per token, base MACs per token of the adapted layers) on Kontext [dev]."""
    import re

    from accelerate import init_empty_weights
    from diffusers import FluxTransformer2DModel

    from sigmascene.model.contextgen.adapter import TARGET_REGEX

    with init_empty_weights():
        tr = FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38,
                                    attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096,
                                    pooled_projection_dim=768, guidance_embeds=True, axes_dims_rope=(16, 56, 56))
    params = extra = base = 0
    for name, mod in tr.named_modules():
        if re.fullmatch(TARGET_REGEX, name) and hasattr(mod, "in_features"):
            params += rank * (mod.in_features + mod.out_features)
            extra += rank * (mod.in_features + mod.out_features)
            base += mod.in_features * mod.out_features
    return params, extra, base


def measured(steps: int, rank: int) -> tuple[float, float, float]:
    import tempfile

    import numpy as np
    import torch
    from PIL import Image

    from sigmascene.model.contextgen.inputs import load_reference, reference_base_size
    from sigmascene.model.contextgen.pipeline import ContextGenPipeline
    from sigmascene.testing.tiny_contextgen import make_tiny_contextgen_components, save_contextgen_adapter

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (48, 48, 4), dtype=np.uint8)
    a[..., 3] = 255
    ref_img = Image.fromarray(a, "RGBA")
    pipe = ContextGenPipeline(**make_tiny_contextgen_components(0))
    with tempfile.TemporaryDirectory() as d:
        f = save_contextgen_adapter(pipe.transformer, d, rank=rank, scale=0.02)
        pipe.load_lora_weights(d, weight_name=f.name, adapter_name="flux_mig")
    refs = [load_reference(ref_img, [0, 0, 40, 40], base=reference_base_size(64, 64))]

    def run() -> tuple[torch.Tensor, float]:
        t0 = time.perf_counter()
        out = pipe("a cat", refs, ref_img, height=64, width=64, num_inference_steps=steps, global_seed=0,
                   generator=torch.Generator().manual_seed(0), output_type="latent").images
        return out, (time.perf_counter() - t0) / steps

    run()  # warm-up
    unfused, t_unfused = run()
    pipe.fuse_lora(adapter_names=["flux_mig"])
    pipe.unload_lora_weights()
    fused, t_fused = run()
    return t_unfused, t_fused, float((fused - unfused).norm() / unfused.norm())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--rank", type=int, default=512)
    args = ap.parse_args()
    params, extra, base = counted()
    print(f"FLUX.1 Kontext [dev] + ContextGen LoRA (rank 512): {params / 1e9:.2f} G adapter parameters "
          f"= {params * 2 / 1024 ** 3:.2f} GiB in bf16; +{100 * extra / base:.0f}% multiply-adds in the adapted layers "
          "when unfused (0 when fused)")
    t_u, t_f, rel = measured(args.steps, args.rank)
    print(f"tiny model, rank {args.rank}, CPU: {t_u:.3f} s/step unfused, {t_f:.3f} s/step fused "
          f"({t_u / t_f:.2f}x); fused vs unfused final latents: relative {rel:.1e}")


if __name__ == "__main__":
    main()
