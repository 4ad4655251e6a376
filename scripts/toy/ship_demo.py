"""Copy the trained toy base and SIGMA LoRA into the package (sigmascene/demo/weights) with a training record.

    python scripts/toy/ship_demo.py --work /tmp/toy
    python scripts/toy/ship_demo.py --work /tmp/toy --lora-only   # a retrained LoRA on the shipped base
    python scripts/toy/ship_demo.py --work /tmp/toy --lora-run /tmp/toy/lora --lora-run /tmp/toy/lora_cool \
        --vae-decoder /tmp/toy/vae_decoder      # a LoRA continued over runs; a decoder fine-tuned on scenes

Writes weights/base/ (the diffusers folder), weights/sigma_lora.safetensors, and weights/training.json (losses,
times and data sizes of each part, from the logs the training scripts left in the work folder). With several
`--lora-run`s (each continuing the previous one through `lora.init`) the last run's LoRA ships and every run is
recorded; `--vae-decoder` replaces the base's VAE by one whose decoder was fine-tuned with its encoder frozen
(`train_vae.py --decoder-only`), which keeps the latent space the transformer and LoRA were trained in.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

DEST = Path(__file__).resolve().parents[2] / "sigmascene" / "demo" / "weights"
LIMIT = 30 * 1024 * 1024


def lora_record(run: Path) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "loss" in r]
    losses = [r["loss"] for r in rows]
    k = max(1, min(50, len(losses) // 5))
    per_stage = {}
    for r in rows:
        per_stage.setdefault(str(r.get("stage")), []).append(r["loss"])
    return {"steps": len(rows), "first_loss_mean": sum(losses[:k]) / k, "last_loss_mean": sum(losses[-k:]) / k,
            "window": k, "seconds": sum(r.get("step_seconds", 0.0) for r in rows),
            "stage_mean_loss": {s: sum(v) / len(v) for s, v in per_stage.items()},
            "summary": json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="the folder build_demo.sh trained in")
    ap.add_argument("--lora-only", action="store_true",
                    help="replace only the LoRA (and its record); the shipped base and its records stay")
    ap.add_argument("--lora-run", type=Path, action="append",
                    help="a LoRA run folder, in training order (repeat for continued runs); default WORK/lora")
    ap.add_argument("--vae-decoder", type=Path, help="a VAE folder whose decoder was fine-tuned on the same encoder")
    args = ap.parse_args()
    w = args.work
    runs = args.lora_run or [w / "lora"]
    base, lora = w / "base", runs[-1] / "lora.safetensors"
    if not lora.is_file() or not (args.lora_only or (base / "model_index.json").is_file()):
        raise SystemExit(f"nothing to ship: {base} or {lora} is missing (run build_demo.sh)")
    if args.vae_decoder is not None and not (args.vae_decoder / "stats.json").is_file():
        raise SystemExit(f"{args.vae_decoder} is not a VAE folder written by train_vae.py")
    if args.lora_only:
        record = json.loads((DEST / "training.json").read_text())
    else:
        record = {"vae": json.loads((w / "vae" / "stats.json").read_text()),
                  "base": json.loads((w / "base_stats.json").read_text()),
                  "data": json.loads((w / "data128" / "synth.json").read_text())}
        if DEST.exists():
            shutil.rmtree(DEST)
        shutil.copytree(base, DEST / "base")
    record["lora"] = lora_record(runs[0])
    record.pop("lora_continued", None)
    if len(runs) > 1:
        record["lora_continued"] = [lora_record(r) for r in runs[1:]]
    if args.vae_decoder is not None:
        stats = json.loads((args.vae_decoder / "stats.json").read_text())
        chain = [stats]
        while chain[0].get("init") and (Path(chain[0]["init"]) / "stats.json").is_file() and \
                chain[0].get("decoder_only"):  # earlier decoder rounds this one continued
            chain.insert(0, json.loads((Path(chain[0]["init"]) / "stats.json").read_text()))
        record["vae_decoder"] = [c for c in chain if c.get("decoder_only")]
        shutil.rmtree(DEST / "base" / "vae")
        shutil.copytree(args.vae_decoder, DEST / "base" / "vae", ignore=shutil.ignore_patterns("stats.json", "*.txt"))
    shutil.copy2(lora, DEST / "sigma_lora.safetensors")
    (DEST / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    total = sum(p.stat().st_size for p in DEST.rglob("*") if p.is_file())
    print(f"shipped {total / 2**20:.1f} MiB into {DEST}")
    if total > LIMIT:
        raise SystemExit(f"the demo weights are {total / 2**20:.1f} MiB, over the 30 MiB budget")


if __name__ == "__main__":
    main()
