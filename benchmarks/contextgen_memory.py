"""Computed GPU memory of a `--method contextgen` render per subject count N, per weight format and offload choice.

Nothing here is measured (no GPU was at hand: the measured rows in docs/methods.md stay "pending"). Weights are
counted exactly from the real architectures on the meta device (memory_table.py's `param_counts`); ContextGen's
adapter is counted from its training config (rank 512 over its target layers): 1.85 G parameters, 3.45 GiB in
bf16, gone when fused (model/contextgen/memory.py fuses it on a GPU with plain bf16 weights; on GGUF / fp8 it
stays as bf16 PEFT layers). Activations follow ContextGen's sequence, counted by sigmascene's own
`SequenceLayout`: [text 512 | main M | layout M | ref_1 .. ref_N], M = (W/16)(H/16), each reference about
(base/16)² tokens with base = 512 at a 768² canvas and 768 at 1024² (ContextGen's resize rule, square
references assumed). On top of memory_table.py's model (a single block's widest activations, memory-efficient
attention), ContextGen adds its two boolean masks (S² bytes each, kept for the whole call) and the additive bias
SDPA makes of a boolean mask in each attention call (S² x 2 bytes in bf16). VAE decode: 1.5 GiB at 1024²,
scaled by area.

Usage: python benchmarks/contextgen_memory.py   (prints markdown tables for docs/methods.md)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from memory_table import BYTES, GIB, param_counts, transformer_bytes

from sigmascene.model.contextgen.inputs import reference_base_size, uniform_resize_16x
from sigmascene.model.contextgen.sequence import sequence_layout

ADAPTER_PARAMS = 1_854_439_424  # benchmarks/contextgen_fuse.py `counted()` (rank 512)


def layout(n: int, canvas: int):
    base = reference_base_size(canvas, canvas)
    w, h = uniform_resize_16x((base, base), base)
    return sequence_layout((canvas // 16, canvas // 16), [(w // 16, h // 16)] * n)


def sequence(n: int, canvas: int) -> int:
    return layout(n, canvas).total


def table(counts: dict[str, int], ns: range, canvas: int) -> list[dict]:
    widest = 3 * 3072 + 12288 + 3072 + 3072
    vae_decode = 1.5 * GIB * (canvas / 1024) ** 2
    t5, clip, vae = counts["t5"] * 2, counts["clip"] * 2, counts["vae"] * 2
    rows = []
    for fmt, b in BYTES.items():
        tr = transformer_bytes(counts, fmt, b)
        lora = 0 if fmt == "bf16" else ADAPTER_PARAMS * 2
        for offload in (False, True):
            row = {"weights": fmt + (" (LoRA fused)" if lora == 0 else " + LoRA"), "offload":
                   "model" if offload else "none"}
            for n in ns:
                if layout(n, canvas).first_overflow() is not None:
                    row[n] = None  # refused: positions past 256 (model/contextgen/sequence.py)
                    continue
                s = sequence(n, canvas)
                act = s * widest * 2 + 2 * s * s + 2 * s * s
                den = tr + lora + act
                row[n] = (max(t5 + clip, den, vae + vae_decode) if offload else
                          t5 + clip + vae + max(den, tr + lora + vae_decode)) / GIB
            rows.append(row)
    return rows


def markdown(rows: list[dict], ns: range) -> str:
    lines = ["| weights | offload | " + " | ".join(f"N={n}" for n in ns) + " |",
             "| --- | --- | " + " | ".join("---:" for _ in ns) + " |"]
    for r in rows:
        cells = ["refused" if r[n] is None else f"{r[n]:.1f}" for n in ns]
        lines.append(f"| {r['weights']} | {r['offload']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    counts = param_counts()
    ns = range(1, 7)
    for canvas in (768, 1024):
        seqs = ", ".join(str(sequence(n, canvas)) for n in ns)
        print(f"\ncomputed peak GPU memory, GiB — {canvas}² canvas, references at ContextGen's size "
              f"(sequence S for N=1..6: {seqs} tokens):\n")
        print(markdown(table(counts, ns, canvas), ns))


if __name__ == "__main__":
    main()
