"""The report: per-case and per-subject CSV, a summary in the paper's layout, and the worst cases as a picture.

The summary mirrors the paper's main table (Setting × Method × Control rows, metric columns, identity and text
scores × 100) so a new LoRA's row can be read against the published one; `PAPER` holds those published rows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .metrics import BY_KEY, METRICS
from .case_scores import CaseScore

GROUP_LABELS = {"single": "Single-subject", "multi": "Multi-subject"}

# The paper's Table 1 (multi-subject), for comparison rows; "-" = not applicable there.
PAPER: list[tuple[str, str, str, dict[str, float]]] = [
    ("Multi-subject", "Insert Anything* (paper)", "Mask,Depth",
     {"dino_i": 72.72, "siglip_i": 75.58, "siglip_t": 17.66, "depth_mse": 203.4, "clip_iqa": 44.41, "musiq": 48.86}),
    ("Multi-subject", "SIGMA-GEN (paper)", "Mask,Depth",
     {"dino_i": 74.54, "siglip_i": 77.82, "siglip_t": 17.73, "depth_mse": 26.35, "clip_iqa": 72.64, "musiq": 73.21}),
    ("Multi-subject", "MSDiffusion (paper)", "Bbox",
     {"dino_i": 63.28, "siglip_i": 69.06, "siglip_t": 11.20, "clip_iqa": 61.99, "musiq": 69.05}),
    ("Multi-subject", "SIGMA-GEN (paper)", "Bbox",
     {"dino_i": 71.90, "siglip_i": 73.15, "siglip_t": 17.21, "clip_iqa": 68.83, "musiq": 70.96}),
]


@dataclass
class SummaryRow:
    setting: str
    method: str
    control: str
    cases: int
    values: dict[str, float | None] = field(default_factory=dict)
    reference: bool = False  # a published row, not measured here


def setting_of(score: CaseScore, by: str) -> str:
    if by == "count":
        return f"{score.n_subjects} subject{'s' if score.n_subjects != 1 else ''}"
    return GROUP_LABELS.get(score.group, score.group)


def summarize(scores: Sequence[CaseScore], by: str = "group") -> list[SummaryRow]:
    """Mean of each metric over the cases of every (setting, method, control); a metric no case has is None."""
    buckets: dict[tuple[str, str, str], list[CaseScore]] = {}
    for s in scores:
        buckets.setdefault((setting_of(s, by), s.method, s.control), []).append(s)

    def order(key: tuple[str, str, str]) -> tuple:
        setting = key[0]
        rank = list(GROUP_LABELS.values()).index(setting) if setting in GROUP_LABELS.values() else 9
        count = int(setting.split()[0]) if by == "count" else 0
        return (rank, count, key[2], key[1])

    rows = []
    for key in sorted(buckets, key=order):
        items = buckets[key]
        values: dict[str, float | None] = {}
        for m in METRICS:
            got = [v for s in items if (v := s.values.get(m.key)) is not None]
            values[m.key] = float(np.mean(got)) if got else None
        rows.append(SummaryRow(key[0], key[1], key[2], len(items), values))
    return rows


def paper_rows() -> list[SummaryRow]:
    return [SummaryRow(s, m, c, 0, {k.key: v.get(k.key) for k in METRICS}, reference=True) for s, m, c, v in PAPER]


def header(metrics: Sequence[str]) -> list[str]:
    return ["Setting", "Method", "Control", "Cases"] + [
        f"{BY_KEY[k].label}{'↑' if BY_KEY[k].higher_better else '↓'}" for k in metrics]


def cells(row: SummaryRow, metrics: Sequence[str]) -> list[str]:
    vals = [("-" if row.values.get(k) is None else f"{row.values[k]:.2f}") for k in metrics]
    return [row.setting, row.method, row.control, "" if row.reference else str(row.cases)] + vals


def to_markdown(rows: Sequence[SummaryRow], metrics: Sequence[str]) -> str:
    head = header(metrics)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells(r, metrics)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def print_table(rows: Sequence[SummaryRow], metrics: Sequence[str], console, title: str = "sigmascene eval",
                note: str | None = None) -> None:
    from rich.table import Table

    if note:
        console.print(note, style="bold yellow", markup=False, highlight=False)
    table = Table(title=title, show_lines=False)
    for i, h in enumerate(header(metrics)):
        table.add_column(h, justify="left" if i < 3 else "right")
    last = None
    for r in rows:
        if last is not None and r.setting != last:
            table.add_section()
        last = r.setting
        table.add_row(*cells(r, metrics), style="dim" if r.reference else None)
    console.print(table)


def write_case_csv(scores: Iterable[CaseScore], path: Path) -> Path:
    keys = [m.key for m in METRICS]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "case", "group", "control", "n_subjects"] + keys + ["render"])
        for s in scores:
            w.writerow([s.method, s.case, s.group, s.control, s.n_subjects]
                       + [_num(s.values.get(k)) for k in keys] + [s.render])
    return path


def write_subject_csv(scores: Iterable[CaseScore], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "case", "subject", "index", "pixels", "dino_i", "siglip_i", "depth_mse", "reference"])
        for s in scores:
            for sub in s.subjects:
                w.writerow([s.method, s.case, sub.subject, sub.index, sub.pixels, _num(sub.dino_i),
                            _num(sub.siglip_i), _num(sub.depth_mse), sub.reference or ""])
    return path


def heading(note: str | None) -> str:
    """The line above a table scored with backbones other than the paper's ("" when they are the paper's)."""
    return f"**{note}**\n\n" if note else ""


def write_summary(rows: Sequence[SummaryRow], metrics: Sequence[str], folder: Path,
                  note: str | None = None) -> list[Path]:
    """summary.md (with the `note` heading when the backbones are not the paper's) and summary.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    md = folder / "summary.md"
    md.write_text(heading(note) + to_markdown(rows, metrics), encoding="utf-8")
    out = folder / "summary.csv"
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["setting", "method", "control", "cases"] + list(metrics))
        for r in rows:
            w.writerow([r.setting, r.method, r.control, r.cases] + [_num(r.values.get(k)) for k in metrics])
    return [md, out]


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.4f}"
