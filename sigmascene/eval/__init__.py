"""Evaluation with the SIGMA-GEN paper's metrics: eval sets, rendering them, scoring, and the report.

Names resolve lazily, so importing `sigmascene.eval` costs nothing until a metric is actually used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "EvalSet": "evalset", "Case": "evalset", "SampleRef": "evalset",
    "Weights": "weights",
    "METRICS": "metrics", "load_suite": "metrics",
    "score_set": "case_scores", "CaseScore": "case_scores", "SubjectScore": "case_scores", "Layout": "case_scores",
    "run_scoring": "score_run", "ScoreReport": "score_run",
    "summarize": "report", "paper_rows": "report",
    "worst_grid": "grid",
    "RunOptions": "runner", "run_set": "runner",
    "make_set": "make_set",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
