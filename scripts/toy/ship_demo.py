"""Copy the trained toy base and SIGMA LoRA into the package (sigmascene/demo/weights) with a training record.

    python scripts/toy/ship_demo.py --work /tmp/toy
    python scripts/toy/ship_demo.py --work /tmp/toy --lora-only   # a retrained LoRA on the shipped base

Writes weights/base/ (the diffusers folder), weights/sigma_lora.safetensors, and weights/training.json (losses,
times and data sizes of each part, from the logs the training scripts left in the work folder).
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
    args = ap.parse_args()
    w = args.work
    base, lora = w / "base", w / "lora" / "lora.safetensors"
    if not lora.is_file() or not (args.lora_only or (base / "model_index.json").is_file()):
        raise SystemExit(f"nothing to ship: {base} or {lora} is missing (run build_demo.sh)")
    if args.lora_only:
        record = json.loads((DEST / "training.json").read_text())
        record["lora"] = lora_record(w / "lora")
    else:
        record = {"vae": json.loads((w / "vae" / "stats.json").read_text()),
                  "base": json.loads((w / "base_stats.json").read_text()),
                  "lora": lora_record(w / "lora"),
                  "data": json.loads((w / "data128" / "synth.json").read_text())}
        if DEST.exists():
            shutil.rmtree(DEST)
        shutil.copytree(base, DEST / "base")
    shutil.copy2(lora, DEST / "sigma_lora.safetensors")
    (DEST / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    total = sum(p.stat().st_size for p in DEST.rglob("*") if p.is_file())
    print(f"shipped {total / 2**20:.1f} MiB into {DEST}")
    if total > LIMIT:
        raise SystemExit(f"the demo weights are {total / 2**20:.1f} MiB, over the 30 MiB budget")


if __name__ == "__main__":
    main()
