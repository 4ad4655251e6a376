"""`sigmascene eval`: build an eval set, render it with a model, score it with the paper's metrics.

Heavy libraries (torch, transformers, the model) are imported inside the commands so that `sigmascene check`
and `sigmascene --help` stay fast.
"""

from __future__ import annotations

import shlex
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

import typer

from ..errors import ConfigError
from ._app import app
from .common import DTYPE_HELP, announce_estimate, command_line, console, progress_bars, user_errors
from .outputs import MAX_COUNT, check_finite

eval_app = typer.Typer(help="Evaluate renders with the paper's metrics.\n\nDINO-I, SigLIP-I/T, depth MSE, CLIP-IQA, "
                            "MUSIQ, from local weights only. Commands: make-set, run, score, tiny-weights, toyworld.",
                       no_args_is_help=True, rich_markup_mode=None)
app.add_typer(eval_app, name="eval")

WEIGHT_HELP = "Local folder of the {} (overrides eval.toml). Never downloaded."


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int], Callable[[str], None]]]:
    """Yields `start(total) -> advance(description)`: a bar on a terminal, a plain line every few seconds in a log."""
    with progress_bars() as bars:
        def start(total: int) -> Callable[[str], None]:
            task = bars.add(label, total, unit="cases")
            return lambda desc: task.advance(status=desc)

        yield start


@eval_app.command("make-set")
def make_set_cmd(
    dataset: Path = typer.Argument(..., help="Dataset folder (holds index.jsonl)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder to write the eval set into (default: "
                                       "beside DATASET, as <name>.evalset)."),
    single: int = typer.Option(20, "--single", min=0, help="Single-subject samples to take (default 20, minutes "
                               "to render on a CPU; the paper's set: --single 200 --multi 510)."),
    multi: int = typer.Option(40, "--multi", min=0, help="Multi-subject samples to take (default 40; paper: 510)."),
    structure: Optional[list[str]] = typer.Option(None, "--structure", help="Structure mode of the cases "
                                                  "(repeatable; one case per sample and mode) (default: mask_depth)."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the random choice of samples."),
    name: Optional[str] = typer.Option(None, "--name", help="Set name shown in reports (default: folder name)."),
    ground_truth: bool = typer.Option(False, "--ground-truth", help="Also file each sample's target image as "
                                      "the method `ground-truth`."),
    force: bool = typer.Option(False, "--force", help="Rebuild a set that already exists in --out."),
) -> None:
    """Build an eval set from a dataset.

    A seeded single/multi-subject split, as self-contained `.sigma` cases."""
    from ..eval.make_set import make_set

    out = out or dataset.with_name(dataset.name + ".evalset")
    with user_errors():
        if single == 0 and multi == 0:  # was "the dataset has no sample with the annotations of mask_depth"
            raise ConfigError("--single 0 --multi 0 asks for no samples", hint="take at least one, e.g. --single 10")
        with progress_bar("make-set") as start:
            summary = make_set(dataset, out, single=single, multi=multi, structures=structure or ["mask_depth"],
                               seed=seed, name=name, ground_truth=ground_truth, force=force, progress=start)
    for line in summary.short:
        console.print(line, style="yellow", markup=False, soft_wrap=True, highlight=False)
    for kind, n in summary.unusable.items():
        console.print(f"[yellow]{n} samples lack the annotations of {kind}: left out[/yellow]")
    print(f"wrote {summary.cases} cases ({summary.single} single-subject, {summary.multi} multi-subject samples) "
          f"to {out}")


def split_methods(method: Optional[list[str]], name: Optional[str]) -> tuple[list[Optional[str]], Optional[str]]:
    """`--method` values (repeated or comma lists) are render methods; one value that names no method is the old
    spelling of `--name` (a misspelt method among several gets did-you-mean)."""
    from ..errors import did_you_mean
    from ..rendering.methods import method_names, method_spec

    values = [v.strip() for m in (method or []) for v in m.split(",") if v.strip()]
    if len(values) == 1 and values[0] not in method_names() and name is None:
        close = did_you_mean(values[0], method_names())
        if close:  # `colage` is a slip, not a folder name
            raise ConfigError(f"--method {values[0]!r} is not a method", hint=f"{close} (a renders/ folder name "
                              "goes to --name)")
        return [None], values[0]
    for v in values:
        method_spec(v)
    if len(values) > 1 and name is not None:
        raise ConfigError("--name names one renders/ folder, but several methods were given",
                          hint="drop --name: each method renders into <lora or base name>-<method>")
    return list(dict.fromkeys(values)) or [None], name


@eval_app.command("run")
def run(
    set_dir: Path = typer.Argument(..., metavar="SET", help="Eval set folder (holds evalset.json)."),
    base: Optional[str] = typer.Option(None, "--base", help="Flux Kontext diffusers folder "
                                       "[env SIGMASCENE_BASE] (or the config file; none: the embedded demo "
                                       "model)."),
    old_base: Optional[str] = typer.Option(None, "--model", hidden=True),  # old spelling of --base
    lora: Optional[str] = typer.Option(None, "--lora", help="SIGMA LoRA .safetensors (or env SIGMASCENE_LORA)."),
    mode: str = typer.Option("single", "--mode", help="Old spelling: --mode iterative is --method iterative."),
    method: Optional[list[str]] = typer.Option(None, "--method", "-m", help="Render method(s) to compare, each into "
                                               "its own renders/ folder (sigma | iterative | collage | contextgen; "
                                               "repeated or comma list; default: chosen from the model, as `render` "
                                               "does). One value that is no method is the old spelling of --name."),
    name: Optional[str] = typer.Option(None, "--name", help="Name of the renders/ folder and table row (default: "
                                       "<lora or base name>-<method>, `single` for sigma)."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, max=1000, help="Denoising steps (default 28; 20 "
                                        "with the demo model)."),
    guidance: Optional[float] = typer.Option(None, "--guidance", help="Distilled guidance strength (default: the "
                                             "method's, 2.5; contextgen 3.5)."),
    prompt_mode: str = typer.Option("auto", "--prompt-mode", help="auto | background | full."),
    cache_conditions: bool = typer.Option(False, "--cache-conditions", help="Condition K/V computed once (LoRA "
                                          "trained with the mask)."),
    case: Optional[list[str]] = typer.Option(None, "--case", help="Render only this case (repeatable)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Render at most the first N cases."),
    force: bool = typer.Option(False, "--force", help="Re-render the selected cases even when finished."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda | cuda:N (default: cuda if present)."),
    dtype: str = typer.Option("auto", "--dtype", help=DTYPE_HELP),
) -> None:
    """Render every case of an eval set, per method.

    Resumable: finished cases are skipped. Writes into SET/renders/NAME/ per method; `eval score` then compares every
    folder in one table."""
    from ..eval.weights import force_offline

    force_offline()
    base = base or old_base
    from ..eval.evalset import EvalSet
    from ..eval.runner import RunOptions, check_setting, default_method, run_set, select_cases
    from ..model.loading import quiet_libraries

    quiet_libraries()  # before the render modules load: the methods import diffusers' pipelines, which warn
    from ..rendering.plan import loras_for, resolve_model
    from ..rendering.provenance import plan_identity
    from ..rendering.render import LoadedModel, RenderRequest, load_model

    with user_errors():
        if guidance is not None:
            check_finite("--guidance", guidance)  # nan rendered every case blank and exited 0
        methods, name = split_methods(method, name)
        runs = []
        for render_method in methods:  # every method's rules and weights checked before the set is read
            loras = [lora] if lora else []
            if len(methods) > 1 and render_method is not None and loras:
                loras = loras_for(render_method, loras)  # compared side by side: collage leaves the SIGMA LoRA out
            request = RenderRequest(base=base, loras=loras, method=render_method, mode=mode,
                                    steps=steps, guidance=guidance, prompt_mode=prompt_mode,
                                    cache_conditions=cache_conditions, device=device or "auto", dtype=dtype)
            model, spec, said = resolve_model(request)
            runs.append((model, spec, said, render_method))
        evalset = EvalSet.load(set_dir)
        cases = select_cases(evalset, case, limit)
        if any(model.demo for model, *_ in runs):
            from ..demo import DEMO_STEPS
            from ..demo.select import demo_banner

            console.print(demo_banner(), markup=False, soft_wrap=True, highlight=False)
            steps = steps or DEMO_STEPS
        planned = []
        for model, spec, said, render_method in runs:
            for line in said:
                console.print(line, style="yellow", markup=False, soft_wrap=True, highlight=False)
            row = name or default_method(model.base, model.loras[0].path if model.loras else None,
                                         "single" if spec.name == "sigma" else spec.name, demo=model.demo)
            g = spec.default_guidance if guidance is None else guidance
            options = RunOptions(row, "iterative" if spec.name == "iterative" else "single", steps or 28, g,
                                 prompt_mode, cache_conditions, plan_identity(model), render_method=render_method)
            if not force and evalset.render_dir(row).is_dir():
                check_setting(evalset.render_dir(row), options)  # before minutes of model loading
            planned.append((model, options))
        if all(model.demo for model, _ in planned):  # another model's speed is unknown before it loads
            from ..eval.toyworld.session import DEMO_ITERATIVE_S_PER_SUBJECT, DEMO_SINGLE_S

            announce_estimate(sum(DEMO_SINGLE_S if options.mode == "single" else
                                  DEMO_ITERATIVE_S_PER_SUBJECT * max(1, len(c.references))
                                  for _, options in planned for c in cases),
                              f"eval run ({len(cases)} cases)", "--limit N renders the first N; a later run "
                              "resumes where this one stops")
        held: dict = {}
        failed = False
        for model, options in planned:
            if model not in held:
                held.clear()  # one model in memory at a time
                with console.status("loading the model..."):
                    held[model] = load_model(model)
            loaded: LoadedModel = held[model]
            try:
                with progress_bar(f"rendering {options.method}") as start:
                    summary = run_set(loaded, evalset, options, cases=cases, force=force, advance=start(len(cases)))
            except KeyboardInterrupt:
                console.print("interrupted; finished cases are kept (resumable). continue with: "
                              + " ".join(shlex.quote(a) for a in command_line()), style="yellow", markup=False,
                              soft_wrap=True)
                raise typer.Exit(130) from None
            for cid, reason in summary.failed:
                print(f"failed {cid}: {reason}")
            console.print(f"{len(summary.rendered)} rendered, {len(summary.skipped)} already finished, "
                          f"{len(summary.failed)} failed in {summary.seconds:.1f} s → "
                          f"{evalset.render_dir(options.method)}")
            failed = failed or bool(summary.failed)
    if len(planned) > 1:
        console.print(f"compare them in one table: sigmascene eval score {shlex.quote(str(set_dir))}",
                      markup=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@eval_app.command("score")
def score(
    set_dir: Path = typer.Argument(..., metavar="SET", help="Eval set folder (holds evalset.json and renders/)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="TOML with a [weights] table (default: "
                                           "SET/eval.toml when present)."),
    dino: Optional[Path] = typer.Option(None, "--dino", help=WEIGHT_HELP.format("DINOv2 model")),
    siglip: Optional[Path] = typer.Option(None, "--siglip", help=WEIGHT_HELP.format("SigLIP model")),
    depth: Optional[Path] = typer.Option(None, "--depth", help=WEIGHT_HELP.format("depth estimator")),
    clip: Optional[Path] = typer.Option(None, "--clip", help=WEIGHT_HELP.format("CLIP model for CLIP-IQA")),
    musiq: Optional[Path] = typer.Option(None, "--musiq", help="pyiqa MUSIQ checkpoint file (.pth)."),
    method: Optional[list[str]] = typer.Option(None, "--method", "-m", help="Score only this renders/ folder "
                                               "(repeatable; default: all)."),
    metric: Optional[list[str]] = typer.Option(None, "--metric", help="Only this metric (repeatable): dino_i, "
                                               "siglip_i, siglip_t, depth_mse, clip_iqa, musiq."),
    by: str = typer.Option("group", "--by", help="Rows per `group` (single/multi-subject, like the paper) or "
                           "per subject `count`."),
    paper: bool = typer.Option(True, "--paper/--no-paper", help="Show the paper's published rows for comparison."),
    worst: int = typer.Option(6, "--worst", help="Worst cases per metric in report/worst.png (0: no grid)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Report folder (default SET/report)."),
    force: bool = typer.Option(False, "--force", help="Rescore cases even when cached scores are current."),
    device: Optional[str] = typer.Option(None, "--device", help="torch device (default: cuda when available)."),
) -> None:
    """Score every render of an eval set.

    A per-case CSV, the paper-layout summary table, the worst cases as a PNG."""
    from ..eval.weights import force_offline

    force_offline()  # before transformers is imported: huggingface_hub reads it once, at import
    from rich.console import Console

    from ..errors import SigmaError
    from ..eval.evalset import EvalSet
    from ..eval.report import heading, paper_rows, print_table, to_markdown
    from ..eval.score_run import resolve_weights, run_scoring
    from ..eval.weights import Weights

    if by not in ("group", "count"):
        with user_errors():
            raise SigmaError(f"--by must be `group` or `count`, got {by!r}")
    from ..model.loading import quiet_libraries

    quiet_libraries()
    with user_errors():
        evalset = EvalSet.load(set_dir)
        flags = Weights.from_mapping({k: v for k, v in dict(dino=dino, siglip=siglip, depth=depth, clip=clip,
                                                            musiq=musiq).items() if v is not None}, origin="flag")
        w = resolve_weights(evalset, weights, flags)
        with progress_bar("scoring") as start:
            report = run_scoring(evalset, w, methods=method, only=metric, by=by, worst=worst, force=force,
                                 device=device, out=out, progress=start,
                                 on_load=lambda line: console.print(f"[dim]loading {line}[/dim]"))
    if not report.scores:
        console.print(f"[yellow]no renders found under {evalset.root / 'renders'}; render with "
                      f"`sigmascene eval run {set_dir} ...` or copy images there as renders/METHOD/CASE.png[/yellow]")
    # the paper's rows stand only beside scores from the paper's backbones (report.caveat says when they are not)
    rows = report.rows + (paper_rows() if paper and report.caveat is None else [])
    out_console = Console(highlight=False)
    if out_console.is_terminal:
        print_table(rows, report.metrics, out_console, title=f"sigmascene eval · {evalset.name}", note=report.caveat)
    else:  # piped or logged: a markdown table, never squeezed to 80 columns, pastes into a paper or an issue
        print(heading(report.caveat) + to_markdown(rows, report.metrics), end="")
    if paper and report.caveat is not None:
        console.print("the paper's rows are left out: they were scored with other backbones (docs/eval.md)",
                      style="dim", markup=False, highlight=False)
    for line in dict.fromkeys(report.skipped.values()):  # SigLIP-I and SigLIP-T share one backbone: one line
        console.print(f"missing: {line}", style="yellow", markup=False, soft_wrap=True, highlight=False)
    for f in report.files:
        console.print(f"[dim]wrote {f}[/dim]")
    for what, reason in report.failed:
        print(f"failed {what}: {reason}")
    if report.failed:
        raise typer.Exit(1)


@eval_app.command("tiny-weights")
def tiny_weights(
    out: Path = typer.Argument(..., help="Folder to write dino/, siglip/, depth/, clip/ and eval.toml into."),
) -> None:
    """Write tiny random-weight metric backbones.

    A smoke test of a set's plumbing: their scores mean nothing."""
    from ..testing.tiny_eval import save_tiny_weights

    with user_errors():
        save_tiny_weights(out)
    print(f"wrote tiny backbones and {out / 'eval.toml'} (use: sigmascene eval score SET --weights "
          f"{out / 'eval.toml'})")


@eval_app.command("toyworld")
def toyworld(
    count: int = typer.Option(5, "--count", min=1, max=MAX_COUNT, help="Held-out scenes per subject count N "
                              "(default 5: minutes on a laptop CPU; the table in README used 20, --count 200 is "
                              "the full-size run)."),
    subjects: str = typer.Option("1-10", "--subjects", help="Subject counts: LOW-HIGH, N, or N,M,..."),
    # `--model` names a folder nowhere else; the embedded demo model is what runs when no --base is given
    model: str = typer.Option("demo", "--model", hidden=True),
    base: Optional[str] = typer.Option(None, "--base", help="Flux Kontext diffusers folder to evaluate (default: "
                                       "the embedded demo model)."),
    lora: Optional[str] = typer.Option(None, "--lora", help="SIGMA LoRA .safetensors for --base."),
    out: Path = typer.Option(Path("toyworld-eval"), "--out", "-o", help="Folder for scenes, renders and report."),
    method: Optional[list[str]] = typer.Option(None, "--method", "-m", help="Methods to compare in one report: "
                                               "comma list or repeated, of sigma, iterative, collage (collage adds "
                                               "a `layout` row: its layout image scored as a render). Default: "
                                               "sigma,iterative with a SIGMA LoRA (the demo), else collage."),
    modes: Optional[str] = typer.Option(None, "--modes", help="Old spelling of --method (single = sigma)."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, max=1000, help="Denoising steps (default: the "
                                        "demo's, else 28)."),
    size: Optional[int] = typer.Option(None, "--size", help="Canvas side in px (default: the demo's canvas)."),
    structure: str = typer.Option("mask_depth", "--structure", help="Placements the scenes give the model: "
                                  "mask_depth | box3d_depth | box2d."),
    seed_base: int = typer.Option(9_000_000, "--seed-base", min=0, help="World seed of N subjects = seed base + N "
                                  "(must not be a training seed)."),
    validate: bool = typer.Option(False, "--validate", help="Only validate the metrics on ground truth and "
                                  "shuffled identities (no model needed)."),
    docs: Optional[Path] = typer.Option(None, "--docs", help="Also write DIR/toyworld.png, "
                                        "DIR/toyworld-examples.png and DIR/toyworld-table.md (for docs/ and README)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes synthesizing scenes."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda | cuda:N (default: cuda if present)."),
    dtype: str = typer.Option("auto", "--dtype", help="With --base: " + DTYPE_HELP),
    force: bool = typer.Option(False, "--force", help="With --docs: replace the files already in DIR."),
    insert: bool = typer.Option(False, "--insert", help="Insert the subjects into each room rendered without "
                                "them (its `background` photo); also reports the share of pixels outside the "
                                "blend region left unchanged."),
) -> None:
    """Evaluate on held-out toy-world scenes.

    Single pass vs iterative: identity, occlusion and placement per subject count N."""
    from ..eval.weights import force_offline

    with user_errors():
        _refuse_to_replace(docs, force)  # before an hour of rendering, not after
    force_offline()
    from rich.console import Console

    from ..eval.toyworld import report as tw_report
    from ..eval.toyworld.session import ToyworldRequest, estimate_seconds, run_toyworld
    from ..model.loading import quiet_libraries

    req = ToyworldRequest(out=out, count=count, subjects=subjects, model=model, base=base, lora=lora,
                          modes=list(method) if method else modes,
                          steps=steps, size=size, structure=structure, seed_base=seed_base, validate=validate,
                          docs=docs, workers=workers, device=device, dtype=dtype,
                          insert=insert)
    with user_errors():
        announce_estimate(estimate_seconds(req), f"eval toyworld (--count {count} x N {subjects})",
                          "--count 5 finishes in minutes; it resumes where it stops (Ctrl-C keeps what is done)")
        quiet_libraries()
        try:
            with _bars() as start:
                done = run_toyworld(req, start, loading=lambda: console.status("loading the model..."))
        except KeyboardInterrupt:
            console.print(f"interrupted; finished scenes and renders in {out} are kept. continue with: "
                          + " ".join(shlex.quote(a) for a in command_line()), style="yellow", markup=False,
                          soft_wrap=True)
            raise typer.Exit(130) from None
    cfg = done.cfg
    for mode, s in done.summaries.items():
        console.print(f"{mode}: {len(s.rendered)} rendered, {len(s.skipped)} already finished, "
                      f"{len(s.failed)} failed in {s.seconds:.1f} s")
        for cid, reason in s.failed:
            print(f"failed {cid} ({mode}): {reason}")
    if not validate:
        for mode, k in done.results.missing.items():
            console.print(f"[yellow]{mode}: {k} scenes have no finished render and are left out of the table[/yellow]")
    out_console = Console(highlight=False)
    if not validate and out_console.is_terminal:
        out_console.print(tw_report.rich_table(done.rows, cfg.modes, done.title))
    elif not validate:
        print(tw_report.markdown(done.rows, cfg.modes), end="")
    print("metric validation (GT: the ground-truth images; " + ("" if validate else "VAE: the same through the "
          "model's VAE at its canvas, the ceiling of this model; ") + "shuffled: the same images judged against "
          "other scenes' identity images):")
    print(tw_report.validation_markdown(done.validation_rows), end="")
    for f in done.files:
        console.print(f"[dim]wrote {f}[/dim]")
    if done.failed:
        raise typer.Exit(1)


DOCS_FILES = ("toyworld-table.md", "toyworld.png", "toyworld-examples.png")


def _refuse_to_replace(docs: Optional[Path], force: bool) -> None:
    """`--docs docs` would replace files the repository tracks: only when asked to."""
    if docs is None or force:
        return
    there = [str(docs / name) for name in DOCS_FILES if (docs / name).exists()]
    if there:
        from ..errors import SigmaError

        raise SigmaError(f"--docs {docs} would replace {', '.join(there)}",
                         hint="pass --force to replace them, or give --docs a new folder")


@contextmanager
def _bars() -> Iterator[Callable[[str, int], Callable[[str], None]]]:
    """The toy-world stages' progress; yields `start(label, total) -> advance(description)`."""
    with progress_bars() as bars:
        def start(label: str, total: int) -> Callable[[str], None]:
            task = bars.add(label, total)
            return lambda desc: task.advance(status=desc)

        yield start
