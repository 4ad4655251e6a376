"""`sigmascene data ...`: make, check, inspect and convert training datasets (folders with index.jsonl)."""

from __future__ import annotations

import json
import shlex
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

import typer

from ..errors import SigmaError
from ..core.vocab import parse_subject_range
from ._app import app
from .outputs import MAX_COUNT
from .common import announce_estimate, command_line, console, fail, progress_bars, user_errors

data_app = typer.Typer(help="Make, check and inspect training datasets.\n\nCommands: synth, validate, stats, show, "
                       "fit-boxes, import, build.",
                       no_args_is_help=True, rich_markup_mode=None)
app.add_typer(data_app, name="data")


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, Optional[int]], None]]:
    """`tick(done, total)` for a library's on_progress: a bar on a terminal, plain lines in a log."""
    with progress_bars() as bars:
        task = bars.add(label, None, unit="samples")
        yield task.update


@data_app.command()
def synth(
    root: Optional[Path] = typer.Argument(None, metavar="DIR", help="Dataset folder (created; re-running resumes it)."),
    count: int = typer.Option(200, "--count", "-n", max=MAX_COUNT, help="Number of samples (ids 0..count-1)."),
    subjects: str = typer.Option("1-10", "--subjects", help="Subjects per image: N or MIN-MAX."),
    size: int = typer.Option(256, "--size", help="Image side in pixels."),
    seed: int = typer.Option(0, "--seed", help="World seed: same seed, same samples."),
    workers: int = typer.Option(2, "--workers", "-w", help="Render processes."),
    identity_size: Optional[int] = typer.Option(None, "--identity-size", help="Identity image side (default --size)."),
    identities: int = typer.Option(0, "--identities",
                                   help="0: a fresh identity per subject; K: draw identities from a pool of K."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Render on Ray: auto, ADDRESS, or local."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", hidden=True),  # the old spelling of DIR
) -> None:
    """Render a synthetic multi-subject dataset.

    Exact masks, depth, boxes and identity images."""
    from ..data.synth import SynthConfig, synthesize

    with user_errors():
        if root is not None and out is not None and root != out:
            raise SigmaError(f"two dataset folders given: {root} and --out {out}", hint="give only DIR")
        root = root or out
        if root is None:
            raise SigmaError("no dataset folder given", hint="for example: sigmascene data synth data/world")
        lo, hi = parse_subject_range(subjects)
        try:
            cfg = SynthConfig(seed=seed, size=size, min_subjects=lo, max_subjects=hi, identity_size=identity_size,
                              identities=identities)
        except ValueError as e:  # pydantic's multi-line report (with its docs URL) was printed as it came
            raise _synth_error(e) from None
        announce_estimate(count / (7.0 * max(1, workers)) * (size / 256) ** 2, f"data synth --count {count}",
                          "a smaller --count, more --workers, or --ray spreads it")  # 14 samples/s, 2 workers, 256²
        with progress_bars() as bars:
            task = bars.add("synth", count, unit="samples")
            try:
                report = synthesize(root, count, cfg, workers=workers, on_progress=task.update, ray=ray)
            except KeyboardInterrupt:
                bars.note("interrupted: finished samples are in the index; continue with: "
                          + " ".join(shlex.quote(a) for a in command_line()), style="yellow")
                raise typer.Exit(130) from None
    if report.repaired_bytes:
        console.print(f"repaired index.jsonl (cut {report.repaired_bytes} bytes of an interrupted line)")
    print(f"{root}: {report.generated} samples rendered, {report.skipped} already there, "
          f"{report.samples_per_s:.1f} samples/s")


_SYNTH_OPTIONS = {"size": "--size", "identity_size": "--identity-size", "identities": "--identities",
                  "seed": "--seed", "min_subjects": "--subjects", "max_subjects": "--subjects"}


def _synth_error(err: ValueError) -> SigmaError:
    """One line per bad option, named as the user typed it: `--size 0: Input should be greater than or equal to 32`."""
    errors = getattr(err, "errors", None)
    if not callable(errors):
        return SigmaError(f"invalid synth settings: {err}")
    lines = []
    for e in errors():
        field = str(e["loc"][0]) if e["loc"] else ""
        option = _SYNTH_OPTIONS.get(field, field or "settings")
        given = f" {e['input']}" if field and not isinstance(e.get("input"), dict) else ""
        lines.append(f"{option}{given}: {e['msg'].removeprefix('Value error, ')}")
    return SigmaError("; ".join(lines), hint="see `sigmascene data synth --help`")


@data_app.command()
def validate(
    root: Path = typer.Argument(..., help="Dataset folder holding index.jsonl."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Errors only, no warnings."),
) -> None:
    """Check every sample of a dataset.

    Files, sizes, masks, boxes, counts; prints `index.jsonl:LINE: ...`; exit 1 on errors."""
    from ..data.validate import validate as run

    with _progress("validate") as tick:
        report = run(root, on_progress=tick)
    for p in sorted(report.problems, key=lambda p: p.line):
        if not (quiet and p.severity == "warning"):
            print(p.format(report.file))
    ne, nw = len(report.errors), len(report.warnings)
    summary = f"{report.samples} samples: {ne} error{'s' * (ne != 1)}, {nw} warning{'s' * (nw != 1)}"
    console.print(f"[{'red' if ne else 'green'}]{summary}[/]")
    if ne:
        raise typer.Exit(1)


@data_app.command()
def stats(
    root: Path = typer.Argument(..., help="Dataset folder holding index.jsonl."),
    as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
) -> None:
    """Count what a dataset holds.

    Subjects per image, placement coverage, annotations, identity reuse."""
    from ..data.io import load_dataset
    from ..data.stats import dataset_stats, render_stats

    with user_errors():
        numbers = dataset_stats(load_dataset(root))
    print(json.dumps(numbers, indent=2) if as_json else render_stats(numbers, root))


@data_app.command()
def show(
    root: Path = typer.Argument(..., help="Dataset folder holding index.jsonl."),
    sample: str = typer.Option(..., "--sample", "-k", help="Sample id, or its 0-based position in the index."),
    structure: str = typer.Option("mask_depth", "--structure", "-s",
                                  help="mask_depth, box3d_depth, box2d, or all (one sheet each)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="PNG to write (default ROOT/previews/<id>_<structure>.png)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --out PNG that sigmascene did not draw."),
) -> None:
    """Draw one sample's compiled maps.

    The preview contact sheet, compiled by the same compiler the trainer uses."""
    from ..data.show import show_sample

    with user_errors():
        written = show_sample(root, sample, structure, out, force=force)
    for path in written:
        print(f"wrote {path}")


@data_app.command("fit-boxes")
def fit_boxes(
    root: Path = typer.Argument(..., help="Dataset folder holding index.jsonl."),
    upright: bool = typer.Option(True, "--upright/--free",
                                 help="Keep boxes upright (yaw only, about the floor's normal) or fully oriented."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Refit boxes that already exist."),
    evaluate: bool = typer.Option(False, "--evaluate",
                                  help="Change nothing; fit every box and compare it with the existing one."),
    min_visible: float = typer.Option(0.5, "--min-visible",
                                      help="With --evaluate: only subjects at least this visible."),
    erode: int = typer.Option(0, "--erode", min=0,
                              help="Pixels to trim off mask edges first (for blurry estimated depth)."),
) -> None:
    """Fill in missing 2D and 3D boxes.

    Fitted from masks + depth + intrinsics (open3d)."""
    from ..data.fitboxes import evaluate_fit, fit_dataset

    with user_errors():
        with _progress("fit-boxes") as tick:
            if evaluate:
                result = evaluate_fit(root, upright=upright, min_visible=min_visible, erode=erode, on_progress=tick)
            else:
                result = fit_dataset(root, upright=upright, overwrite=overwrite, erode=erode, on_progress=tick)
    if evaluate:
        print(f"{result['subjects']} subjects (visible >= {min_visible:.0%}): mean 3D IoU {result['mean_iou']:.3f}, "
              f"median {result['median_iou']:.3f}, mean centre error {result['mean_centre_error_m']:.3f} m, "
              f"mean 2D IoU {result['mean_iou_2d']:.3f}")
        return
    for note in result["notes"]:
        print(note, file=sys.stderr)
    print(f"{root}: {result['box2d']} 2D boxes and {result['box3d']} 3D boxes fitted, "
          f"{result['skipped']} subjects skipped")


@data_app.command("import")
def import_cmd(
    src: Path = typer.Argument(..., help="Folder of images (or with an images/ subfolder)."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder to create."),
    masks: Optional[Path] = typer.Option(None, help="Masks: masks/<image>/<subject>.png or masks/<image>.png ids."),
    depth: Optional[Path] = typer.Option(None, help="Depth maps: depth/<image>.npy (metres) or 16-bit PNG (mm)."),
    identity: Optional[Path] = typer.Option(None, help="Identity images: identity/<image>/<subject>.png."),
    captions: Optional[Path] = typer.Option(None, help="captions.json (see docs/dataset.md)."),
    fov: float = typer.Option(55.0, help="Vertical field of view (degrees) assumed when no camera is given."),
    segment_cmd: Optional[str] = typer.Option(None, help="Command making masks for images without them."),
    depth_cmd: Optional[str] = typer.Option(None, help="Command making a depth map for images without one."),
    repose_cmd: Optional[str] = typer.Option(None, help="Command making an identity image in a new pose."),
    fit: bool = typer.Option(True, "--fit-boxes/--no-fit-boxes", help="Fit 2D/3D boxes after importing."),
) -> None:
    """Build a dataset from your own files.

    Images, masks, depth maps, captions and identity images."""
    from ..data.importer import ImportOptions, import_folder

    opts = ImportOptions(masks=masks, depth=depth, identity=identity, captions=captions, fov=fov,
                         segment_cmd=segment_cmd, depth_cmd=depth_cmd, repose_cmd=repose_cmd, fit_boxes=fit)
    with user_errors():
        with _progress("import") as tick:
            result = import_folder(src, out, opts, on_progress=tick)
    for note in result.notes:
        print(note, file=sys.stderr)
    if result.crops:
        console.print(f"[bold red]WARNING[/]: {result.crops} identity images are CROPS of the target image. A model "
                      "trained on crops learns to copy-paste pixels, not identities; give real identity images "
                      "(another photo, or --repose-cmd) before training on this dataset.")
    print(f"{out}: {result.samples} samples, {result.subjects} subjects imported")


__all__ = ["data_app", "fail"]
