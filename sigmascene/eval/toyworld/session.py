"""`eval toyworld` as one library call: choose the model, synthesize the held-out worlds, render every mode
(through `eval run`'s resumable runner, hence `sigmascene.rendering.render.render_scene`), score, write the report.

The CLI only parses options, shows the bars and prints the tables this returns; a script or the editor can run the
same evaluation without the command line.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from . import model as tw_model
from . import report as tw_report
from . import run as tw_run
from .world import parse_subjects


@dataclass
class ToyworldRequest:
    out: Path = Path("toyworld-eval")
    count: int = 200
    subjects: str = "1-10"
    model: str = "demo"
    base: Optional[str] = None
    lora: Optional[str] = None
    modes: Optional[str | list[str]] = None  # methods compared (None: sigma, iterative with a SIGMA LoRA; else collage)
    steps: Optional[int] = None
    size: Optional[int] = None
    structure: str = "mask_depth"
    seed_base: int = 9_000_000
    validate: bool = False
    docs: Optional[Path] = None
    workers: int = 1
    device: Optional[str] = None
    dtype: str = "auto"
    insert: bool = False  # subjects inserted into each room's empty render (insert.py)


@dataclass
class ToyworldOutcome:
    cfg: tw_run.ToyworldConfig
    title: str
    rows: list
    validation_rows: list
    results: tw_run.Results
    summaries: dict[str, Any] = field(default_factory=dict)  # mode -> RunSummary (empty with validate)
    files: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(s.failed for s in self.summaries.values())


# Seconds per image of the demo model on a 2-core CPU (README's toy-world table: 0.7-1.1 s single pass at any N,
# iterative about 0.6 s per subject), plus synthesis and scoring per scene. Only for the up-front estimate.
DEMO_SINGLE_S, DEMO_ITERATIVE_S_PER_SUBJECT, SCENE_OVERHEAD_S = 1.0, 0.6, 0.3


def estimate_seconds(req: ToyworldRequest) -> float | None:
    """About how long `req` takes with the demo model on a laptop CPU; None when another model is evaluated
    (its speed is unknown before it loads)."""
    if req.base is not None:
        return None
    counts = parse_subjects(req.subjects)
    per_scene = [SCENE_OVERHEAD_S * len(counts)]
    if not req.validate:
        for mode in tw_run.method_names(req.modes if req.modes is not None else "single,iterative"):
            per_scene.append(sum(DEMO_ITERATIVE_S_PER_SUBJECT * n if mode == "iterative" else DEMO_SINGLE_S
                                 for n in counts))
    return req.count * sum(per_scene)


def run_toyworld(req: ToyworldRequest, start: tw_run.Start,
                 loading: Optional[Callable[[], Any]] = None) -> ToyworldOutcome:
    """The whole toy-world evaluation; resumable (finished scenes and renders are reused). `start(label, total)`
    opens a progress bar; `loading()`, when given, is a context manager shown while the model loads."""
    from contextlib import nullcontext

    counts = parse_subjects(req.subjects)
    if req.modes is not None and not req.validate:
        tw_run.parse_modes(req.modes)  # a misspelt method before any model is looked for
    choice = tw_model.choose_model(req.model, req.base, req.lora, req.size, req.steps, need_model=not req.validate)
    default = "single,iterative" if choice.base is None or choice.lora is not None else "collage"
    modes = [] if req.validate else tw_run.parse_modes(req.modes if req.modes is not None else default)
    cfg = tw_run.ToyworldConfig(out=req.out, counts=counts, count=req.count, size=choice.size, modes=modes,
                                steps=choice.steps, seed_base=req.seed_base, structure=req.structure,
                                model_name=choice.name, workers=req.workers, insert=req.insert)
    evalset = tw_run.prepare(cfg, choice.train_seeds, start, choice.train_world_seed)
    pipe, summaries = None, {}
    if not req.validate:
        from ...rendering.plan import resolve_model
        from ...rendering.render import LoadedModel, load_model

        plans = {m: resolve_model(tw_model.model_request(choice, req.device, req.dtype, tw_run.render_method(m)))[0]
                 for m in cfg.rendered()}  # every method's weights checked before the first loads
        held: dict[Any, LoadedModel] = {}

        def load(method: str) -> LoadedModel:
            plan = plans[next(m for m in cfg.rendered() if tw_run.render_method(m) == method)]
            if plan not in held:
                held.clear()  # one model in memory at a time: the methods run one after the other
                with (loading() if loading is not None else nullcontext()):
                    held[plan] = load_model(plan)
            return held[plan]

        summaries = tw_run.render_all(load, evalset, cfg, start)
        pipe = next(iter(held.values())).pipe if held else None
    results = tw_run.score_all(evalset, cfg, start=start, pipe=pipe)
    title = (f"toy-world metric validation · {cfg.structure} · {cfg.size}px" if req.validate else
             f"toy-world eval · {choice.name} · {cfg.structure} · {cfg.size}px" + (" · insert" if req.insert else ""))
    rows, files = tw_report.write_report(results, cfg.modes, req.out / "report", title)
    examples = None
    if not req.validate:
        from .examples import example_sheet

        sheet = example_sheet(evalset, counts, {m: evalset.render_dir(cfg.method(m)) for m in cfg.modes})
        if sheet is not None:
            examples = req.out / "report" / "examples.png"
            sheet.save(examples)
            files.append(examples)
    if req.docs is not None:
        req.docs.mkdir(parents=True, exist_ok=True)
        (req.docs / "toyworld-table.md").write_text(tw_report.markdown(rows, cfg.modes), encoding="utf-8")
        files.append(req.docs / "toyworld-table.md")
        for src, dest in ((req.out / "report" / "toyworld.png", "toyworld.png"), (examples, "toyworld-examples.png")):
            if src is not None and src.is_file():
                files.append(Path(shutil.copyfile(src, req.docs / dest)))
    return ToyworldOutcome(cfg=cfg, title=title, rows=rows,
                           validation_rows=tw_report.validation_rows(results.validation), results=results,
                           summaries=summaries, files=files)
