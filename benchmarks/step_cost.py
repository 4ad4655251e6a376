"""Cost of one denoising step: plain text-to-image vs SIGMA single pass (N subjects) vs the iterative baseline.

Runs the real-size Flux Kontext transformer (19 double + 38 single blocks, 3072 wide) with RANDOM weights — the
weights do not change the time of a dense pass — in bf16, at a 1024x1024 output with 512x512 identity blocks, so
the token counts are the paper's: X 4096, I_C 4096, I_S 1024 per subject, text 512. Each row is the median of
`--steps` timed transformer passes after `--warmup` passes; memory is the peak allocated during that row.

    python benchmarks/step_cost.py                 # on a GPU (needs ~30 GB for the weights)
    python benchmarks/step_cost.py --tiny          # tiny random model on CPU: checks the script itself

Rows: t2i (X and text only); single N (all N subjects in one pass, full joint attention as a plain Kontext
LoRA would run it); masked N (conditions attend only to conditions); cached N (masked + condition K/V computed
once, its one-off cost shown separately); iterative N (N passes of one subject each, cost per denoising step
summed over the passes); collage (stock Kontext on one canvas-sized layout image: X + one context image of
X's size, whatever N is — the same transformer call FluxKontextPipeline makes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from sigmascene.model.forward import build_condition_cache, sigma_forward
from sigmascene.model.layout import make_layout, sequence_ids

TOKEN_PX = 16


def build_transformer(tiny: bool, device: torch.device, dtype: torch.dtype):
    if tiny:
        from sigmascene.testing.tiny_pipeline import make_tiny_components

        tr = make_tiny_components(0)["transformer"]
        return tr.to(device=device, dtype=dtype).eval().requires_grad_(False)
    from diffusers import FluxTransformer2DModel

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # build straight in bf16 on the GPU: no 48 GB fp32 detour
    try:
        with torch.device(device):
            tr = FluxTransformer2DModel(guidance_embeds=True)  # FLUX.1 Kontext [dev] configuration
    finally:
        torch.set_default_dtype(previous)
    return tr.eval().requires_grad_(False)


class Bench:
    def __init__(self, tr, device, dtype, canvas: int, block: int, text_len: int, steps: int, warmup: int):
        self.tr, self.device, self.dtype = tr, device, dtype
        self.canvas, self.block, self.text_len, self.steps, self.warmup = canvas, block, text_len, steps, warmup
        cfg = tr.config
        g = torch.Generator(device="cpu").manual_seed(0)
        self.rand = lambda *shape: torch.randn(*shape, generator=g).to(device=device, dtype=dtype)
        self.txt = self.rand(1, text_len, cfg.joint_attention_dim)
        self.pooled = self.rand(1, cfg.pooled_projection_dim)
        n_x = (canvas // TOKEN_PX) ** 2
        self.x = self.rand(1, n_x, cfg.in_channels)
        self.guidance = torch.full((1,), 2.5, device=device)
        self.t = torch.full((1,), 0.7, device=device, dtype=dtype)

    def layout(self, n: int):
        layout = make_layout(self.text_len, (self.canvas, self.canvas), (max(n, 1) * self.block, self.block))
        ids = sequence_ids(layout, device=self.device, dtype=self.dtype)
        cond = self.rand(1, layout.n_cond, self.tr.config.in_channels) if n else None
        return layout, ids, cond

    def step(self, ids, cond, *, mask=False, cache=None):
        return sigma_forward(self.tr, hidden_states=self.x, cond_tokens=None if cache is not None else cond,
                             encoder_hidden_states=self.txt, pooled_projections=self.pooled, timestep=self.t,
                             guidance=self.guidance, txt_ids=ids["txt"], x_ids=ids["x"], cond_ids=ids["cond"],
                             condition_mask=mask, cache=cache)

    def collage_step(self):
        """Stock Kontext's transformer call on [X, layout] with its ids: X (0, y, x), the layout image (1, y, x)."""
        side = self.canvas // TOKEN_PX
        grid = torch.zeros(side, side, 3)
        grid[..., 1] += torch.arange(side)[:, None]
        grid[..., 2] += torch.arange(side)[None, :]
        ids_x = grid.reshape(-1, 3)
        ids_layout = ids_x.clone()
        ids_layout[:, 0] = 1
        img_ids = torch.cat([ids_x, ids_layout]).to(self.device, self.dtype)
        txt_ids = torch.zeros(self.text_len, 3, device=self.device, dtype=self.dtype)
        hidden = torch.cat([self.x, self.rand(*self.x.shape)], dim=1)
        return lambda: self.tr(hidden_states=hidden, timestep=self.t, guidance=self.guidance,
                                pooled_projections=self.pooled, encoder_hidden_states=self.txt, txt_ids=txt_ids,
                                img_ids=img_ids, return_dict=False)[0][:, : self.x.shape[1]]

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def timed(self, fn, repeats: int | None = None) -> tuple[float, float]:
        """(ms per call, peak GiB) over `repeats` calls after the warm-up."""
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        for _ in range(self.warmup):
            fn()
        self.sync()
        times = []
        for _ in range(repeats or self.steps):
            t0 = time.perf_counter()
            fn()
            self.sync()
            times.append((time.perf_counter() - t0) * 1000)
        ms = statistics.median(times)
        peak = torch.cuda.max_memory_allocated(self.device) / 2**30 if self.device.type == "cuda" else float("nan")
        return ms, peak


def run(args) -> list[dict]:
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    tr = build_transformer(args.tiny, device, dtype)
    b = Bench(tr, device, dtype, args.canvas, args.block, args.text_len, args.steps, args.warmup)
    rows: list[dict] = []

    def add(name, n, tokens, ms, peak, **extra):
        rows.append(dict(config=name, subjects=n, tokens=tokens, ms_per_step=ms, peak_gib=peak, **extra))
        print(f"  {name:<12} N={n:<3} tokens={tokens:<6} {ms:9.1f} ms/step  peak {peak:6.2f} GiB", file=sys.stderr)

    with torch.inference_mode():
        layout, ids, _ = b.layout(0)
        ms, peak = b.timed(lambda: b.step(ids, None))
        add("t2i", 0, layout.n_txt + layout.n_x, ms, peak)
        ms, peak = b.timed(b.collage_step())
        add("collage", "any", layout.n_txt + 2 * layout.n_x, ms, peak)  # one layout image, whatever N is
        for n in args.subjects:
            layout, ids, cond = b.layout(n)
            ms, peak = b.timed(lambda ids=ids, cond=cond: b.step(ids, cond))
            add("single", n, layout.total, ms, peak)
            ms, peak = b.timed(lambda ids=ids, cond=cond: b.step(ids, cond, mask=True))
            add("masked", n, layout.total, ms, peak)
            t0 = time.perf_counter()
            cache = build_condition_cache(tr, cond_tokens=cond, cond_ids=ids["cond"], pooled_projections=b.pooled,
                                          guidance=b.guidance)
            b.sync()
            build_ms = (time.perf_counter() - t0) * 1000
            ms, peak = b.timed(lambda ids=ids, cache=cache: b.step(ids, None, mask=True, cache=cache))
            add("cached", n, layout.n_txt + layout.n_x, ms, peak, cache_build_ms=build_ms,
                cache_gib=cache.nbytes() / 2**30)
            cache = None  # free its memory before the iterative rows
            layout1, ids1, cond1 = b.layout(1)
            conds = [b.rand(*cond1.shape) for _ in range(n)]  # each pass has its own subject
            ms, peak = b.timed(lambda ids1=ids1, conds=conds: [b.step(ids1, c) for c in conds])
            add("iterative", n, layout1.total, ms, peak, passes=n)
    return rows


def table(rows: list[dict], device_name: str) -> str:
    t2i = next(r["ms_per_step"] for r in rows if r["config"] == "t2i")
    iterative = {r["subjects"]: r["ms_per_step"] for r in rows if r["config"] == "iterative"}
    out = [f"device: {device_name}", "",
           "| config | N | tokens | ms/step | x t2i | iterative / this | peak GiB |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        it = iterative.get(r["subjects"])
        speed = f"{it / r['ms_per_step']:.1f}x" if it and r["config"] != "iterative" else ""
        extra = (f" (cache built once: {r['cache_build_ms']:.0f} ms, {r['cache_gib']:.2f} GiB)"
                 if "cache_build_ms" in r else "")
        out.append(f"| {r['config']}{extra} | {r['subjects']} | {r['tokens']} | {r['ms_per_step']:.1f} | "
                   f"{r['ms_per_step'] / t2i:.2f} | {speed} | {_gib(r['peak_gib'])} |")
    return "\n".join(out)


def _gib(v: float) -> str:
    return "n/a (CPU)" if v != v else f"{v:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="tiny random model, small sizes, fp32 (CPU check)")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default=None, choices=("bf16", "fp16", "fp32"))
    p.add_argument("--canvas", type=int, default=None, help="output side in px [1024; tiny 256]")
    p.add_argument("--block", type=int, default=None, help="identity block side in px [512; tiny 128]")
    p.add_argument("--text-len", type=int, default=None, help="text tokens [512; tiny 64]")
    p.add_argument("--subjects", type=lambda s: [int(v) for v in s.split(",")], default=[1, 3, 5, 10])
    p.add_argument("--steps", type=int, default=None, help="timed passes per row [3; tiny 2]")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = p.parse_args(argv)
    small = args.tiny
    args.dtype = args.dtype or ("fp32" if small else "bf16")
    args.canvas = args.canvas or (256 if small else 1024)
    args.block = args.block or (128 if small else 512)
    args.text_len = args.text_len or (64 if small else 512)
    args.steps = args.steps or (2 if small else 3)
    if not small and not torch.cuda.is_available() and args.device in (None, "cuda"):
        print("no GPU: the real-size benchmark needs one (about 30 GB); use --tiny to check the script on CPU",
              file=sys.stderr)
        return 2
    rows = run(args)
    dev = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if dev.startswith("cuda") else f"CPU ({os.cpu_count()} cores)"
    name += f", torch {torch.__version__}, {args.dtype}"
    name += ", TINY random model" if small else ", real-size random weights"
    print(table(rows, name))
    if args.json:
        args.json.write_text(json.dumps({"device": name, "args": {k: str(v) for k, v in vars(args).items()},
                                         "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
