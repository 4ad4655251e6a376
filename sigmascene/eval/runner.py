"""`eval run`: render every case of a set with one model setting, resumably.

A set takes hours on a GPU, so a run must survive being stopped: each output is written atomically beside a
sidecar JSON, and a case with both is finished and skipped next time. A method folder holds one setting only —
resuming with other steps, mode or model is refused rather than mixing two settings under one table row.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import ConfigError, ModelError, SigmaError
from ..core.files import save_image_atomic, write_text_atomic
from .evalset import Case, EvalSet

if TYPE_CHECKING:
    from ..rendering.render import LoadedModel
    from ..rendering.request import RenderRequest

MODES = ("single", "iterative")
# The options that define a method: a resumed run must match them exactly.
SETTING_KEYS = ("mode", "render_method", "steps", "guidance", "prompt_mode", "cache_conditions", "model")


@dataclass
class RunOptions:
    method: str
    mode: str = "single"
    steps: int = 28
    guidance: float | None = None  # None: the method's default (2.5; contextgen 3.5)
    prompt_mode: str = "auto"
    cache_conditions: bool = False
    model: dict[str, Any] = field(default_factory=dict)  # rendering.provenance.model_identity: resuming checks it
    render_method: str | None = None  # sigma | iterative | collage | ... (None: the resolver's default)

    def setting(self) -> dict[str, Any]:
        from ..rendering.provenance import identity_key

        d = asdict(self)
        d["model"] = identity_key(d["model"])
        return {k: d[k] for k in SETTING_KEYS}


@dataclass
class RunSummary:
    rendered: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # finished earlier
    failed: list[tuple[str, str]] = field(default_factory=list)  # (case, one-line reason)
    seconds: float = 0.0


def default_method(base: Path, lora: Path | None, mode: str, demo: bool = False) -> str:
    """`<lora stem>-<mode>` (or the base folder's name without a LoRA; `demo` for the embedded demo model): a
    readable row name in the table."""
    stem = "demo" if demo else lora.stem if lora is not None else base.name
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
        diff = [k for k in SETTING_KEYS if old.get(k) != new.get(k) and not (k == "render_method" and k not in old)]
        if diff:
            shown = ", ".join(f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in diff)
            raise ConfigError(f"renders/{options.method} was rendered with another setting ({shown})",
                             hint="pass another --method name for this setting, or --force to re-render all")
        return  # one sidecar is enough: they were all checked against each other when written


def select_cases(evalset: EvalSet, only: Sequence[str] | None, limit: int | None) -> list[Case]:
    cases = [evalset.case(c) for c in only] if only else list(evalset.cases)
    return cases[:limit] if limit is not None else cases


def run_request(options: RunOptions, seed: int | None = None) -> "RenderRequest":
    """The render request of a run: the run's setting and the case's seed (the weights are the loaded model's)."""
    from ..rendering.request import RenderRequest

    return RenderRequest(method=options.render_method, mode=options.mode, steps=options.steps,
                         guidance=options.guidance, seed=seed, cache_conditions=options.cache_conditions,
                         prompt_mode=options.prompt_mode)


def render_case(loaded: "LoadedModel", evalset: EvalSet, case: Case, options: RunOptions,
                on_step: Callable[[int, int], None] | None = None) -> tuple[Any, dict, dict[str, Any]]:
    """Compile and render one case through the library render call; returns (PIL image, sidecar dict, method
    files): the sidecar `sigmascene render` writes, plus the case, the row and its setting; the files a method
    writes beside its render (collage: its layout image)."""
    from ..rendering.render import render_scene

    scene = evalset.load_scene(case)
    t0 = time.perf_counter()
    result = render_scene(scene, run_request(options, case.seed), loaded=loaded, progress=on_step,
                          source=case.scene)
    seconds = time.perf_counter() - t0
    sidecar = dict(result.sidecars[0], case=case.id, row=options.method, setting=options.setting(),
                   seconds=seconds)
    return result.images[0], sidecar, (result.files[0] if result.files else {})


def write_render(folder: Path, case_id: str, image: Any, sidecar: dict, files: dict[str, Any] | None = None) -> None:
    """Image and method files first, sidecar last, each via a temporary name: a sidecar present means the image
    is whole. A method file `key` is `<case>.<key>.png` (collage's layout image: `<case>.layout.png`)."""
    folder.mkdir(parents=True, exist_ok=True)
    sidecar = dict(sidecar, image=f"{case_id}.png")
    for key, picture in (files or {}).items():
        save_image_atomic(picture, folder / f"{case_id}.{key}.png")
        sidecar.setdefault("files", {})[key] = f"{case_id}.{key}.png"
    save_image_atomic(image, folder / f"{case_id}.png")
    write_text_atomic(folder / f"{case_id}.json", json.dumps(sidecar, indent=2, sort_keys=True) + "\n")


def run_set(loaded: "LoadedModel", evalset: EvalSet, options: RunOptions, *, cases: Sequence[Case] | None = None,
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
                image, sidecar, files = render_case(loaded, evalset, case, options, on_step)
                write_render(folder, case.id, image, sidecar, files)
                summary.rendered.append(case.id)
            except (ConfigError, ModelError):
                raise  # the model or the options are wrong: every further case would fail the same way
            except SigmaError as err:  # this case's scene, files or references: the other cases still render
                summary.failed.append((case.id, err.format().splitlines()[0]))
        if advance:
            advance(case.id)
    summary.seconds = time.perf_counter() - t0
    return summary
