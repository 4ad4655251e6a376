"""Computed GPU memory of a SIGMA render at 1024² per subject count N, for each weight format and offload choice.

Nothing here is measured: weights are counted exactly from the real architectures (built on the meta device, no
weights, no download), activations are estimated from the token layout SIGMA uses, and the result is printed as a
markdown table for docs/model.md. Run `python benchmarks/step_cost.py` on a GPU for measured peaks.

The model of memory (documented in docs/model.md):
* weights: parameters x bytes per parameter. bf16 = 2; fp8 = 1 (sigmascene's `--dtype fp8`: transformer only);
  GGUF Q8_0 = 34 bytes per 32 weights, Q4_0 = 18 per 32 (transformer only; diffusers keeps 1-D tensors and the
  embedders in bf16, counted as bf16 here). Text encoders and VAE stay bf16.
* transformer activations at the widest point of a single block: the sequence times (linear1 output
  3·3072 + 12288, its input 3072, the attention output 3072) in bf16, with a memory-efficient attention kernel (no
  S² score matrix).
* VAE decode of a 1024² image: about 1.5 GiB (the decoder's largest feature maps, 128 x 1024 x 1024 x bf16 times
  a handful alive at once); `--vae-tiling` bounds it.
* no offload: every component resident together. `--offload model`: one component at a time, so the peak is the
  largest of (T5 encoding, transformer denoising, VAE decoding). Sequential offload streams layer by layer and is
  not tabulated (about the activations plus one block).
"""

from __future__ import annotations

import argparse

GIB = 1024 ** 3
BYTES = {"bf16": 2.0, "fp8": 1.0, "GGUF Q8_0": 34 / 32, "GGUF Q4_0": 18 / 32}


def param_counts() -> dict[str, int]:
    """Exact parameter counts of FLUX.1 Kontext [dev]'s components, from their configs, on the meta device."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    with init_empty_weights():
        tr = FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38,
                                    attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096,
                                    pooled_projection_dim=768, guidance_embeds=True, axes_dims_rope=(16, 56, 56))
        t5 = T5EncoderModel(T5Config(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24,
                                     num_heads=64, feed_forward_proj="gated-gelu"))
        clip = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                            num_hidden_layers=12, num_attention_heads=12, projection_dim=768))
        vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                            up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512),
                            layers_per_block=2, latent_channels=16)
    quantizable = sum(p.numel() for n, p in tr.named_parameters() if p.ndim == 2 and "embed" not in n)
    count = {"transformer": sum(p.numel() for p in tr.parameters()), "transformer_quantizable": quantizable}
    for name, m in (("t5", t5), ("clip", clip), ("vae", vae)):
        count[name] = sum(p.numel() for p in m.parameters())
    return count


def tokens(n: int, canvas: int = 1024, block: int = 512, n_txt: int = 512) -> tuple[int, int]:
    """(sequence length, condition tokens) of SIGMA's [P, X, I_S, I_C] layout, from sigmascene's own layout."""
    from sigmascene.model.layout import make_layout

    lay = make_layout(n_txt, (canvas, canvas), (n * block, block))
    return lay.total, lay.n_cond


def transformer_bytes(counts: dict[str, int], fmt: str, b: float) -> float:
    """The transformer's weights in `fmt` (`b` bytes a parameter): GGUF quantizes only the matmul weights, the
    rest (norms, biases, embedders) stays bf16."""
    if fmt.startswith("GGUF"):
        q = counts["transformer_quantizable"]
        return q * b + (counts["transformer"] - q) * 2
    return counts["transformer"] * b


def table(counts: dict[str, int], ns: range, cache: bool = False) -> list[dict]:
    inner, widest = 3072, 3 * 3072 + 12288 + 3072 + 3072
    rows = []
    vae_decode = 1.5 * GIB
    for fmt, b in BYTES.items():
        tr = transformer_bytes(counts, fmt, b)
        t5, clip, vae = counts["t5"] * 2, counts["clip"] * 2, counts["vae"] * 2
        for offload in (False, True):
            row = {"weights": fmt, "offload": "model" if offload else "none"}
            for n in ns:
                seq, n_cond = tokens(n)
                act = seq * widest * 2
                if cache:
                    act += 57 * 2 * n_cond * inner * 2
                if offload:
                    peak = max(t5 + clip, tr + act, vae + vae_decode)
                else:
                    peak = t5 + clip + vae + max(tr + act, tr + vae_decode)
                row[n] = peak / GIB
            rows.append(row)
    return rows


def markdown(rows: list[dict], ns: range) -> str:
    head = "| weights | offload | " + " | ".join(f"N={n}" for n in ns) + " |"
    sep = "| --- | --- | " + " | ".join("---:" for _ in ns) + " |"
    lines = [head, sep]
    for r in rows:
        lines.append(f"| {r['weights']} | {r['offload']} | " + " | ".join(f"{r[n]:.1f}" for n in ns) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", action="store_true", help="include the condition cache (--cache-conditions)")
    args = ap.parse_args()
    counts = param_counts()
    ns = range(1, 11)
    print(f"parameters: transformer {counts['transformer'] / 1e9:.2f} B, T5 {counts['t5'] / 1e9:.2f} B, "
          f"CLIP {counts['clip'] / 1e6:.0f} M, VAE {counts['vae'] / 1e6:.0f} M; sequence at N=1/10: "
          f"{tokens(1)[0]}/{tokens(10)[0]} tokens")
    print("computed peak GPU memory, GiB (1024² canvas, 512² identity blocks, 512 text tokens"
          + (", condition cache" if args.cache else "") + "):\n")
    print(markdown(table(counts, ns, args.cache), ns))


if __name__ == "__main__":
    main()
