"""`sigmascene data build`: the SIGMA-SET27K recipe with real models from local folders (see docs/dataset-build.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError
from .common import console, user_errors
from .outputs import MAX_COUNT
from .data_cmd import data_app


def _summary(report) -> None:
    from rich.table import Table

    table = Table(title=f"data build: {report.kept} kept of {report.count} ({report.engine}, {report.seconds:.1f} s)")
    for col in ("stage", "s / sample", "processed", "reused", "stopped upstream"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for stage, secs in report.seconds_per_sample.items():
        c = report.stage_counts.get(stage, {})
        table.add_row(stage, f"{secs:.3f}", str(c.get("processed", 0)), str(c.get("reused", 0)),
                      str(c.get("blocked", 0)))
    console.print(table)
    if report.rejections:
        rej = Table(title="rejections per filter")
        rej.add_column("filter")
        rej.add_column("samples", justify="right")
        for name, n in report.rejections.items():
            rej.add_row(name, str(n))
        console.print(rej)
    for note in report.notes:
        console.print(f"note: {note}")


@data_app.command("build")
def build(
    config: Path = typer.Option(Path("build.toml"), "--config", "-c", help="Build config (TOML); see --init."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Dataset folder to create (or --resume)."),
    count: Optional[int] = typer.Option(None, "--count", "-n", max=MAX_COUNT,
                                        help="Samples to attempt (default: build.count)."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed or finished build in --out."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Run on Ray: auto (the local `ray start` cluster), "
                                                          "ADDRESS, or local (start one in-process)."),
    init: bool = typer.Option(False, "--init", help="Write a commented default config to --config and stop."),
    tiny_models: Optional[Path] = typer.Option(None, "--tiny-models", help="With --init: also write tiny "
                                                                           "random-weight model folders here and "
                                                                           "point the config at them (a smoke "
                                                                           "test; the images mean nothing)."),
    force: bool = typer.Option(False, "--force", help="With --init: overwrite an existing config."),
    calibrate: Optional[int] = typer.Option(None, "--calibrate", help="Run the segmentation and depth models on "
                                                                      "N synthetic-world scenes with exact truth; "
                                                                      "report mask IoU and depth AbsRel."),
) -> None:
    """Build a training dataset with real models.

    Prompts, image, masks, depth, reposed identities, boxes."""
    from ..data.recipe import load_config, run_build, validate_config, write_default

    with user_errors():
        if init:
            cfg = None
            if tiny_models is not None:
                from ..data.recipe.config_file import check_init_target
                from ..testing.tiny_stages import tiny_config, write_tiny_models

                check_init_target(config, force)  # before minutes of writing models, not after

                with console.status("writing tiny model folders"):
                    models = write_tiny_models(tiny_models)
                cfg = validate_config(tiny_config({k: p.resolve() for k, p in models.items()}))
            path = write_default(config, cfg, force=force)
            console.print(f"wrote {path}: point each \\[stages.*] model at a local folder, then "
                          f"`sigmascene data build --config {path} --out DATASET`")
            return
        cfg = load_config(config)
        if calibrate is not None:
            from ..data.recipe.calibrate import calibrate as run_calibration, render_calibration

            target = out or Path("calibration")
            with console.status(f"calibrating on {calibrate} synthetic scenes"):
                result = run_calibration(cfg, target, calibrate)
            print(render_calibration(result))
            print(f"wrote {target / 'calibration.json'}")
            return
        if out is None:
            raise ConfigError("--out is required", hint="sigmascene data build --config build.toml --out DATASET")
        if out.exists() and not out.is_dir():  # found before the models load, not after
            raise ConfigError(f"--out {out} is a file, not a dataset folder", hint="choose a new folder for --out")
        from ..model.loading import quiet_libraries

        quiet_libraries()  # "[transformers] ... requires torchvision" x3 was most of the output; -v shows it
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      TextColumn("{task.fields[shard]}"), console=console) as bar:
            tasks: dict[str, TaskID] = {}
            total = count or cfg.build.count

            def on_stage(stage: str, k: int, n: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total, shard="")
                bar.update(tasks[stage], shard=f"shard {k + 1}/{n}")

            def tick(stage: str, n: int) -> None:
                bar.advance(tasks[stage], n)

            def on_shard(done: int, n: int) -> None:
                if "ray" not in tasks:
                    tasks["ray"] = bar.add_task("shards", total=n, shard="all stages")
                bar.update(tasks["ray"], completed=done)

            try:
                report = run_build(cfg, out, count=count, resume=resume, ray=ray, on_stage=on_stage, tick=tick,
                                   on_shard=on_shard)
            except KeyboardInterrupt:
                console.print("[yellow]interrupted[/yellow]: finished stage outputs are kept; run the same command "
                              "with --resume to continue")
                raise typer.Exit(130) from None
    _summary(report)
    print(f"{out}: {report.kept} samples in index.jsonl, {report.rejected} in rejects.jsonl; next: "
          f"`sigmascene data validate {out}` and `sigmascene train`")
