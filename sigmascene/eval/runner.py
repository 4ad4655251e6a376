"""`eval run`: render every case of a set with one model setting, resumably.

A set takes hours on a GPU, so a run must survive being stopped: each output is written atomically beside a
sidecar JSON, and a case with both is finished and skipped next time. A method folder holds one setting only —
resuming with other steps, mode or model is refused rather than mixing two settings under one table row.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import ConfigError, ModelError, SigmaError
from ..files import file_sha256, save_image_atomic, write_text_atomic
from .evalset import Case, EvalSet

MODES = ("single", "iterative")
# The options that define a method: a resumed run must match them exactly.
SETTING_KEYS = ("mode", "steps", "guidance", "prompt_mode", "cache_conditions", "model")


@dataclass
class RunOptions:
    method: str
    mode: str = "single"
    steps: int = 28
    guidance: float = 2.5
    prompt_mode: str = "auto"
    cache_conditions: bool = False
    model: dict[str, Any] = field(default_factory=dict)  # base/lora identities, written to every sidecar

    def setting(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: d[k] for k in SETTING_KEYS}


@dataclass
class RunSummary:
    rendered: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # finished earlier
    failed: list[tuple[str, str]] = field(default_factory=list)  # (case, one-line reason)
    seconds: float = 0.0


def default_method(base: Path, lora: Path | None, mode: str) -> str:
    """`<lora stem>-<mode>` (or the base folder's name without a LoRA): a readable row name in the table."""
    stem = lora.stem if lora is not None else base.name
    return f"{stem}-{mode}".replace(" ", "_")


def is_finished(folder: Path, case_id: str) -> bool:
    return (folder / f"{case_id}.png").is_file() and (folder / f"{case_id}.json").is_file()


def check_setting(folder: Path, options: RunOptions) -> None:
    """Refuse to resume a method folder whose finished renders were made with another setting."""
    for side in sorted(folder.glob("*.json")):
        try:
            old = json.loads(side.read_text(encoding="utf-8")).get("setting")
        except (OSError, json.JSONDecodeError, AttributeError):
            continue
        if not isinstance(old, dict):
            continue
        new = options.setting()
        diff = [k for k in SETTING_KEYS if old.get(k) != new.get(k)]
        if diff:
            shown = ", ".join(f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in diff)
            raise ConfigError(f"renders/{options.method} was rendered with another setting ({shown})",
                             hint="pass another --method name for this setting, or --force to re-render all")
        return  # one sidecar is enough: they were all checked against each other when written


def select_cases(evalset: EvalSet, only: Sequence[str] | None, limit: int | None) -> list[Case]:
    cases = [evalset.case(c) for c in only] if only else list(evalset.cases)
    return cases[:limit] if limit is not None else cases


def render_case(pipe: Any, evalset: EvalSet, case: Case, options: RunOptions,
                on_step: Callable[[int, int], None] | None = None) -> tuple[Any, dict]:
    """Compile and render one case; returns (PIL image, sidecar dict)."""
    import sigmascene

    from ..prompts import build_prompt

    scene = evalset.load_scene(case)
    compiled = sigmascene.compile(scene)
    seed = scene.seed if case.seed is None else case.seed
    kwargs = dict(prompt_mode=options.prompt_mode, seed=seed, num_inference_steps=options.steps,
                  guidance_scale=options.guidance, callback=on_step)
    t0 = time.perf_counter()
    if options.mode == "single":
        result = pipe.render(compiled, cache_conditions=options.cache_conditions, **kwargs)
    else:
        result = pipe.render_iterative(compiled, **kwargs)
    seconds = time.perf_counter() - t0
    sidecar = {"case": case.id, "method": options.method, "setting": options.setting(), "seed": seed,
               "prompt": build_prompt(scene, options.prompt_mode), "subjects": list(compiled.order),
               "size": [scene.canvas.width, scene.canvas.height], "seconds": seconds,
               "timings": dict(getattr(result, "timings", {}) or {})}
    return result.images[0], sidecar


def write_render(folder: Path, case_id: str, image: Any, sidecar: dict) -> None:
    """Image first, sidecar last, each via a temporary name: a sidecar present means the image is whole."""
    save_image_atomic(image, folder / f"{case_id}.png")
    write_text_atomic(folder / f"{case_id}.json", json.dumps(sidecar, indent=2, sort_keys=True) + "\n")


def run_set(pipe: Any, evalset: EvalSet, options: RunOptions, *, cases: Sequence[Case] | None = None,
            force: bool = False, advance: Callable[[str], None] | None = None,
            on_step: Callable[[int, int], None] | None = None) -> RunSummary:
    """Render every selected case not yet finished; a failing case is recorded and the run goes on."""
    if options.mode not in MODES:
        raise ConfigError(f"--mode {options.mode!r} is not one of: {', '.join(MODES)}")
    folder = evalset.render_dir(options.method)
    if not force and folder.is_dir():
        check_setting(folder, options)
    summary = RunSummary()
    t0 = time.perf_counter()
    for case in (cases if cases is not None else evalset.cases):
        if not force and is_finished(folder, case.id):
            summary.skipped.append(case.id)
        else:
            try:
                image, sidecar = render_case(pipe, evalset, case, options, on_step)
                write_render(folder, case.id, image, sidecar)
                summary.rendered.append(case.id)
            except (ConfigError, ModelError):
                raise  # the model or the options are wrong: every further case would fail the same way
            except SigmaError as err:  # this case's scene, files or references: the other cases still render
                summary.failed.append((case.id, err.format().splitlines()[0]))
        if advance:
            advance(case.id)
    summary.seconds = time.perf_counter() - t0
    return summary


def weights_fingerprint(path: Path) -> str:
    """sha256 of a weights file, or of a folder's files and their names (missing: the empty digest). Sizes are
    not enough: a LoRA retrained at the same rank has exactly the old file's size, and a resumed run must not
    keep renders of the old weights. A rank-128 Flux LoRA hashes in about a second."""
    path = Path(path)
    files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path] if path.exists() else []
    digest = hashlib.sha256()
    for f in files:
        digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        digest.update(bytes.fromhex(file_sha256(f)))
    return digest.hexdigest()[:16]


def model_identity(base: Path, lora: Path | None) -> dict[str, Any]:
    """What names the model in sidecars: the base folder and the LoRA's path and content fingerprint, so a
    resumed run pointed at another (or a retrained) LoRA is noticed."""
    out: dict[str, Any] = {"base": str(Path(base).resolve())}
    if lora is not None:
        out["lora"] = {"path": str(Path(lora).resolve()), "sha256": weights_fingerprint(lora)}
    return out
