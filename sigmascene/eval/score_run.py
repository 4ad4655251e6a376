"""`eval score` as a function: load what the weights allow, score every render, write the report.

Kept apart from the CLI so Python users (and tests) get the same report the command prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .backbones import caveat
from .evalset import EvalSet
from .grid import worst_grid
from .metrics import load_suite, metric_keys
from .report import SummaryRow, summarize, write_case_csv, write_subject_csv, write_summary
from .case_scores import CaseScore, count_work, score_set
from .weights import Weights


@dataclass
class ScoreReport:
    scores: list[CaseScore]
    rows: list[SummaryRow]
    metrics: list[str]  # keys of the columns: every selected metric, so the layout is the paper's even when
    # a backbone is missing (its column reads "-" and `skipped` says why)
    skipped: dict[str, str]  # metric key -> the line saying what is missing
    files: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # ("method/case", reason): not scored
    caveat: str | None = None  # the heading line when the backbones are not the paper's (backbones.caveat)


def resolve_weights(evalset: EvalSet, config: Path | None, flags: Weights) -> Weights:
    """Flags over `--weights FILE` over `SET/eval.toml`."""
    base = Weights()
    if config is not None:
        base = Weights.from_toml(config)
    elif (evalset.root / "eval.toml").is_file():
        base = Weights.from_toml(evalset.root / "eval.toml")
    return base.merged(flags)


def run_scoring(evalset: EvalSet, weights: Weights, *, methods: Sequence[str] | None = None,
                only: Sequence[str] | None = None, by: str = "group", worst: int = 6, force: bool = False,
                device: str | None = None, out: Path | None = None,
                progress: Callable[[int], Callable[[str], None]] | None = None,
                on_skip: Callable[[str], None] | None = None, on_load: Callable[[str], None] | None = None
                ) -> ScoreReport:
    """Score `methods` (default: every folder under renders/) and write the report into `out` (SET/report)."""
    keys = metric_keys(list(only) if only else None)
    suite = load_suite(weights, keys, device, on_load=on_load)
    for key in keys:
        if key in suite.skipped and on_skip:
            on_skip(suite.skipped[key])
    methods = list(methods) if methods else evalset.methods()
    advance = progress(count_work(evalset, methods)) if progress else None
    failed: list[tuple[str, str]] = []
    scores = score_set(evalset, suite, weights.fingerprint(), methods, force=force, advance=advance, failed=failed)
    shown = list(keys)
    rows = summarize(scores, by=by)
    out = out or evalset.root / "report"
    files = [write_case_csv(scores, out / "cases.csv"), write_subject_csv(scores, out / "subjects.csv")]
    note = caveat(weights)
    files += write_summary(rows, shown, out, note)
    grid = worst_grid(evalset.root, scores, out / "worst.png", k=worst, metrics=shown) if worst > 0 else None
    if grid is not None:
        files.append(grid)
    return ScoreReport(scores, rows, shown, {k: suite.skipped[k] for k in keys if k in suite.skipped}, files,
                       failed, note)
