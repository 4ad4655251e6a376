"""The toy-world report: one row per subject count N, single pass and iterative side by side, and a plot.

Percentages are pooled decisions (hits / decisions over all scenes with N subjects), not means of per-scene
rates, so a scene with ten subjects weighs ten identity decisions. The ground-truth ceiling and the chance level
of each metric (from the validation) sit beside the model's numbers: a number is only meaningful between them.
"VAE" is the ground truth through the model's own VAE at its canvas: what a perfect transformer would score.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import numpy as np

from .metrics import METRICS
from .run import Results
from .validate import validation_rows

LABELS = {"identity": "identity %", "occlusion": "occlusion %", "placement": "placement %", "seconds": "s / image",
          "unchanged": "unchanged outside %"}


def result_rows(res: Results, modes: list[str]) -> list[dict]:
    """Flat rows: N, scenes, then `<metric>_<mode>` (percent), `seconds_<mode>`, and `<metric>_truth/chance`."""
    val = {r["N"]: r for r in validation_rows(res.validation)}
    rows = []
    for n in sorted(res.scenes):
        row: dict = {"N": n, "scenes": res.scenes[n]}
        for m in METRICS:
            for mode in modes:
                s = res.scores.get((n, mode))
                rate = getattr(s, m).rate if s else None
                row[f"{m}_{mode}"] = None if rate is None else round(100 * rate, 1)
            row[f"{m}_truth"] = val[n][f"{m}_truth"]
            row[f"{m}_vae"] = val[n][f"{m}_vae"]
            row[f"{m}_chance"] = val[n][f"{m}_chance"]
        for mode in modes:
            secs = res.seconds.get((n, mode))
            row[f"seconds_{mode}"] = round(float(np.mean(secs)), 2) if secs else None
        if res.unchanged:  # --insert: pixels outside the blend region + feather equal to the photo
            for mode in modes:
                row[f"unchanged_{mode}"] = _share(res.unchanged.get((n, mode)))
        rows.append(row)
    return rows


def _share(acc) -> float | None:
    """Percent of unchanged pixels; 100.0 only when every one is unchanged (never rounded up to it)."""
    if not acc or not acc[1]:
        return None
    same, total = acc
    return 100.0 if same == total else min(99.999, round(100 * same / total, 3))


def _columns(rows: list[dict]) -> tuple:
    """The per-mode columns: the metrics, seconds, and with --insert the unchanged-outside share."""
    extra = ("unchanged",) if any(k.startswith("unchanged_") for r in rows for k in r) else ()
    return (*METRICS, "seconds", *extra)


def _fmt(v) -> str:
    return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))


def _has_vae(rows: list[dict]) -> bool:
    return any(r.get(f"{m}_vae") is not None for r in rows for m in METRICS)


def _references(r: dict, vae: bool) -> list[str]:
    """The 'GT / VAE / chance' cells (VAE only when a model was loaded)."""
    keys = ("truth", "vae", "chance") if vae else ("truth", "chance")
    return [" / ".join(_fmt(r[f"{m}_{k}"]) for k in keys) for m in METRICS]


def markdown(rows: list[dict], modes: list[str]) -> str:
    vae = _has_vae(rows)
    cols = _columns(rows)
    head = ["N", "scenes"] + [f"{LABELS[m]} {mode}" for m in cols for mode in modes]
    head += [f"{m} GT / {'VAE / ' if vae else ''}chance" for m in METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        cells = [str(r["N"]), str(r["scenes"])]
        cells += [_fmt(r[f"{m}_{mode}"]) for m in cols for mode in modes]
        cells += _references(r, vae)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def validation_markdown(rows: list[dict]) -> str:
    kinds = ("truth", "vae", "shuffled", "chance") if _has_vae(rows) else ("truth", "shuffled", "chance")
    names = {"truth": "GT", "vae": "VAE", "shuffled": "shuffled", "chance": "chance"}
    head = ["N"] + [f"{m} {names[k]}" for m in METRICS for k in kinds] + ["decisions (id/occ/pl)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        cells = [str(r["N"])] + [_fmt(r[f"{m}_{k}"]) for m in METRICS for k in kinds]
        cells.append("/".join(str(r[f"{m}_decisions"]) for m in METRICS))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["N"])
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    return path


def rich_table(rows: list[dict], modes: list[str], title: str):
    from rich.table import Table

    t = Table(title=title)
    t.add_column("N", justify="right")
    t.add_column("scenes", justify="right")
    cols = _columns(rows)
    for m in cols:
        for mode in modes:
            t.add_column(f"{LABELS[m]}\n{mode}", justify="right")
    vae = _has_vae(rows)
    for m in METRICS:
        t.add_column(f"{m}\nGT / {'VAE / ' if vae else ''}chance", justify="right", style="dim")
    for r in rows:
        cells = [str(r["N"]), str(r["scenes"])]
        cells += [_fmt(r[f"{m}_{mode}"]) for m in cols for mode in modes]
        cells += _references(r, vae)
        t.add_row(*cells)
    return t


def plot(rows: list[dict], modes: list[str], path: Path, title: str = "toy-world eval") -> Optional[Path]:
    """Metric vs N, one line per mode, the ground-truth ceiling dashed and chance dotted; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    ns = [r["N"] for r in rows]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    colours = {"single": "tab:blue", "iterative": "tab:orange"}
    for ax, m in zip(axes, (*METRICS, "seconds")):
        for mode in modes:
            ys = [r[f"{m}_{mode}"] for r in rows]
            pts = [(x, y) for x, y in zip(ns, ys) if y is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=mode, color=colours.get(mode))
        if m != "seconds":
            ax.plot(ns, [r[f"{m}_truth"] for r in rows], ls="--", marker=".", color="green", label="ground truth")
            trip = [(x, r[f"{m}_vae"]) for x, r in zip(ns, rows) if r.get(f"{m}_vae") is not None]
            if trip:
                ax.plot(*zip(*trip), ls="--", marker=".", color="olive", label="ground truth via the VAE")
            ax.plot(ns, [r[f"{m}_chance"] for r in rows], ls=":", color="grey", label="chance")
            ax.set_ylim(0, 105)
        ax.set_title(LABELS[m])
        ax.set_xlabel("subjects N")
        ax.set_xticks(ns)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(res: Results, modes: list[str], folder: Path, title: str) -> tuple[list[dict], list[Path]]:
    """toyworld.{csv,md,png} and validation.{csv,md} into `folder`; returns (rows, written files)."""
    rows = result_rows(res, modes)
    vrows = validation_rows(res.validation)
    files = [write_csv(folder / "toyworld.csv", rows), folder / "toyworld.md",
             write_csv(folder / "validation.csv", vrows), folder / "validation.md"]
    files[1].write_text(markdown(rows, modes), encoding="utf-8")
    files[3].write_text(validation_markdown(vrows), encoding="utf-8")
    png = plot(rows, modes, folder / "toyworld.png", title)
    if png:
        files.append(png)
    return rows, files
