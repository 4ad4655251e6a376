"""The toy-world eval end to end: held-out worlds → an eval set → renders per mode (resumable) → scores per N.

The renders go through `eval run`'s machinery (`runner.run_set`), so they are resumable the same way (image and
sidecar written atomically; a case with both is skipped) and a folder cannot mix two settings. The folder is an
ordinary eval set, so `sigmascene eval score OUT` can add the paper's metrics when their weights exist.

    OUT/world/nNN/            one synthetic dataset per subject count N (world seed = seed base + N)
    OUT/evalset.json          the kept scenes as cases `nNN-<sample id>`
    OUT/renders/<model>-<structure>-<mode>/
    OUT/report/               toyworld.{csv,md,png}, validation.{csv,md}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

import numpy as np

from ...data import STRUCTURES
from ...errors import AssetError, ConfigError
from ...core.vocab import TOKEN_PIXELS
from ..evalset import Case, EvalSet, SampleRef
from ..runner import MODES
from .metrics import SceneScore, score_image, scene_regions
from .validate import Validation, foreign_identities, vae_round_trip, validate_scene
from .world import HELDOUT_BASE, WORLDS_DIR, load_rgb, case_id, check_disjoint, load_toy_scene, make_worlds

if TYPE_CHECKING:
    from ...model.pipeline import SigmaPipeline
    from ...rendering.render import LoadedModel

Start = Callable[[str, int], Callable[[str], None]]  # start(label, total) -> advance(description)


#: The old names of the comparison's columns: `single` is the sigma method, rendered into `...-single` folders.
OLD_MODES = {"single": "sigma"}
#: The pseudo-method that scores collage's layout image itself, as if it were a render: the ceiling of what the
#: model was shown. Added after `collage` whenever collage is compared.
LAYOUT = "layout"


def method_names(text: str | list[str]) -> list[str]:
    """The names in `--method a,b` (repeated or comma lists), in order, each once; not checked (that loads the
    method table, whose modules import diffusers)."""
    parts = [text] if isinstance(text, str) else list(text)
    return list(dict.fromkeys(m.strip() for part in parts for m in str(part).split(",") if m.strip()))


def parse_modes(text: str | list[str]) -> list[str]:
    """`single,iterative` / `collage,sigma,iterative` (or a list of such) into the compared methods, each checked
    against the method table before any model is looked for; `layout` follows `collage`."""
    from ...rendering.methods import method_spec

    parts = [text] if isinstance(text, str) else list(text)
    modes = method_names(text)
    if not modes:
        raise ConfigError(f"--method {','.join(parts)!r} names no method", hint="for example --method sigma,iterative")
    for m in modes:
        if m not in OLD_MODES and m != LAYOUT:
            method_spec(m)  # a misspelling gets did-you-mean
    if "collage" in modes and LAYOUT not in modes:
        modes.insert(modes.index("collage") + 1, LAYOUT)
    return modes


def render_method(mode: str) -> str:
    """The method of the table a compared column renders with."""
    return OLD_MODES.get(mode, mode)


@dataclass
class ToyworldConfig:
    out: Path
    counts: list[int]
    count: int = 200
    size: int = 256
    modes: list[str] = field(default_factory=lambda: list(MODES))  # methods compared (parse_modes)
    steps: int = 28
    guidance: float | None = None  # None: the method's default (2.5; contextgen 3.5)
    seed_base: int = HELDOUT_BASE
    structure: str = "mask_depth"
    model_name: str = "demo"
    workers: int = 1
    insert: bool = False  # subjects inserted into the empty room as `background` (insert.py)

    def check(self) -> None:
        if self.count < 1:
            raise ConfigError(f"--count must be at least 1, got {self.count}")
        if self.size % TOKEN_PIXELS or not 32 <= self.size <= 2048:
            raise ConfigError(f"canvas size {self.size} must be a multiple of {TOKEN_PIXELS} between 32 and 2048")
        if self.modes:
            parse_modes(self.modes)
        if self.structure not in STRUCTURES:
            raise ConfigError(f"--structure {self.structure!r} is not one of: {', '.join(STRUCTURES)}")

    def method(self, mode: str) -> str:
        """The renders/ folder: model, structure and method, so runs with another structure never mix. The layout
        row reads collage's folder (its `<case>.layout.png` files)."""
        mode = "collage" if mode == LAYOUT else mode
        kind = f"insert-{mode}" if self.insert else mode
        return f"{self.model_name}-{self.structure}-{kind}".replace(" ", "_")

    def rendered(self) -> list[str]:
        """The compared methods that render (the layout row is collage's by-product)."""
        return [m for m in self.modes if m != LAYOUT]


@dataclass
class Results:
    """Per (N, mode): the pooled decisions and the seconds per image; plus the metric validation per N."""

    scores: dict[tuple[int, str], SceneScore] = field(default_factory=dict)
    seconds: dict[tuple[int, str], list[float]] = field(default_factory=dict)
    scenes: dict[int, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)  # mode -> scenes without a finished render
    unchanged: dict[tuple[int, str], list[int]] = field(default_factory=dict)  # --insert: [same, outside] px
    validation: Validation = field(default_factory=Validation)


def prepare(cfg: ToyworldConfig, train_seeds: Optional[Iterable[int]] = None,
            start: Optional[Start] = None, train_world_seed: Optional[int] = None) -> EvalSet:
    """Synthesize (or reuse) the held-out worlds and write OUT/evalset.json."""
    cfg.check()
    check_disjoint(cfg.counts, cfg.seed_base, train_seeds, train_world_seed)
    worlds = make_worlds(cfg.out, cfg.counts, cfg.count, cfg.size, cfg.seed_base, workers=cfg.workers,
                         start=start)
    cases = [Case(id=case_id(n, s.id), seed=n * 100_000 + int(s.id),
                  sample=SampleRef(dataset=f"{WORLDS_DIR}/n{n:02d}", id=s.id, structure=cfg.structure))
             for n in cfg.counts for s in worlds[n]]
    evalset = EvalSet(name="toyworld", cases=cases)
    evalset.save(cfg.out)
    if cfg.insert:
        from .insert import write_photos
        from .world import world_seed

        return write_photos(evalset, lambda s: world_seed(len(s.subjects), cfg.seed_base), start)
    return evalset


def render_all(load: Callable[[str], "LoadedModel"], evalset: EvalSet, cfg: ToyworldConfig,
               start: Optional[Start] = None) -> dict[str, Any]:
    """Render every case with every compared method; finished renders are skipped. `load(method)` gives the
    loaded model for a method (the caller keeps one per distinct weights). Returns {method: RunSummary}."""
    from ..runner import RunOptions, run_set

    out = {}
    for mode in cfg.rendered():
        loaded = load(render_method(mode))
        options = RunOptions(cfg.method(mode), "iterative" if mode == "iterative" else "single", cfg.steps,
                             cfg.guidance, "auto", False, loaded.identity, render_method=render_method(mode))
        advance = start(f"rendering {mode}", len(evalset.cases)) if start else None
        out[mode] = run_set(loaded, evalset, options, advance=advance)
    return out


def _sidecar_seconds(path: Path) -> Optional[float]:
    import json

    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _add_unchanged(res: Results, n: int, mode: str, folder: Path, evalset: EvalSet, case: Case) -> None:
    import json

    from PIL import Image

    from .insert import unchanged_outside

    sidecar = json.loads((folder / f"{case.id}.json").read_text(encoding="utf-8"))
    with Image.open(folder / f"{case.id}.png") as im:
        same, total = unchanged_outside(np.asarray(im.convert("RGB")), evalset, case, sidecar)
    acc = res.unchanged.setdefault((n, mode), [0, 0])
    acc[0] += same
    acc[1] += total


def score_all(evalset: EvalSet, cfg: ToyworldConfig, *, validate_seed: int = 0,
              start: Optional[Start] = None, pipe: "SigmaPipeline | None" = None) -> Results:
    """Score the finished renders of every mode and validate the metrics on every scene's ground truth; with
    `pipe`, also score the ground truth through its VAE at the eval canvas (the model's own ceiling)."""
    from PIL import Image

    from ...data import load_dataset
    from ...data.io import resolve
    from ..runner import is_finished

    rng = np.random.default_rng(validate_seed)
    res = Results()
    located = []
    datasets: dict[str, dict] = {}
    for case in evalset.cases:  # first every sample, so each scene can be judged against others' references
        ref = case.sample
        if ref is None:
            raise AssetError(f"case {case.id} is not a toy-world sample", hint="use a folder made by `eval toyworld`")
        root = evalset.root / ref.dataset
        if ref.dataset not in datasets:
            datasets[ref.dataset] = {s.id: s for s in load_dataset(root)}
        sample = datasets[ref.dataset].get(ref.id)
        if sample is None:
            raise AssetError(f"{root} has no sample '{ref.id}' (named by case {case.id})")
        located.append((case, sample, root))
    pool = [[resolve(root, s.identity) for s in sample.subjects] for _, sample, root in located]
    advance = start("scoring", len(evalset.cases)) if start else None
    for i, (case, sample, root) in enumerate(located):
        n = len(sample.subjects)
        scene = load_toy_scene(sample, root, n, case.id)
        regions = scene_regions(scene)
        foreign = foreign_identities(pool, i, n, rng)
        truth, shuffled = validate_scene(scene, regions, None if foreign is None else [load_rgb(p) for p in foreign])
        res.validation.add(n, truth, shuffled, truth.identity.total, n)
        if pipe is not None:
            res.validation.add_round_trip(n, score_image(vae_round_trip(pipe, scene.image, cfg.size), scene, regions))
        res.scenes[n] = res.scenes.get(n, 0) + 1
        for mode in cfg.modes:
            folder = evalset.render_dir(cfg.method(mode))
            image = folder / (f"{case.id}.{LAYOUT}.png" if mode == LAYOUT else f"{case.id}.png")
            if not is_finished(folder, case.id) or not image.is_file():
                res.missing[mode] = res.missing.get(mode, 0) + 1
                continue
            with Image.open(image) as im:
                score = score_image(im.convert("RGB"), scene, regions)
            res.scores.setdefault((n, mode), SceneScore()).merge(score)
            if mode == LAYOUT:
                continue  # what the model was shown: no seconds, and never pasted into the photo
            if cfg.insert:
                _add_unchanged(res, n, mode, folder, evalset, case)
            secs = _sidecar_seconds(folder / f"{case.id}.json")
            if secs is not None:
                res.seconds.setdefault((n, mode), []).append(secs)
        if advance:
            advance(case.id)
    return res
