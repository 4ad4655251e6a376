"""`eval make-set`: an eval set from a dataset folder, split single vs multi-subject like the paper's 710 cases.

Each chosen sample becomes one case per structure mode, converted to a Scene by the same function the trainer
uses (`sample_to_scene`), then written as a self-contained `.sigma` file with every file it names
copied beside it: a set can be moved to the GPU machine that renders it, and later changes to the dataset
folder cannot change what an old score meant. The sample's target image is kept as `target.png`;
`--ground-truth` also files it as the method `ground-truth`, whose scores are the ceiling a model can reach
with these references and the floor of the depth estimator's error.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..data import STRUCTURES  # the dataset tools' structure modes (the trainer draws among the same three)
from ..data import sample_to_scene  # the trainer's conversion: eval cases are shown exactly as training was
from ..data.io import load_dataset
from ..errors import AssetError, ConfigError, SigmaError, did_you_mean
from ..grammar import dumps
from .evalset import INDEX, Case, EvalSet

GROUND_TRUTH = "ground-truth"


@dataclass
class MakeSetSummary:
    cases: int = 0
    single: int = 0  # samples
    multi: int = 0
    short: list[str] = field(default_factory=list)  # "wanted N single-subject samples, the dataset has M"
    unusable: dict[str, int] = field(default_factory=dict)  # structure -> samples left out for lacking it


def has_annotations(sample: Any, structure: str) -> bool:
    """Whether every subject carries what `structure` shows (the rule the trainer draws modes by)."""
    subs = sample.subjects
    if structure == "mask_depth":
        return all(s.mask for s in subs)
    if structure == "box3d_depth":
        return all(s.box3d is not None for s in subs)
    return all(s.box2d is not None or s.mask for s in subs)


def choose_samples(samples: Sequence[Any], single: int, multi: int, seed: int) -> tuple[list[Any], list[Any]]:
    """Seeded random choice of `single` one-subject and `multi` multi-subject samples, in dataset order."""
    rng = np.random.default_rng(seed)
    ones = [s for s in samples if len(s.subjects) == 1]
    many = [s for s in samples if len(s.subjects) > 1]

    def pick(pool: list[Any], n: int) -> list[Any]:
        if n >= len(pool):
            return list(pool)
        keep = set(rng.choice(len(pool), size=n, replace=False).tolist())
        return [s for i, s in enumerate(pool) if i in keep]

    return pick(ones, single), pick(many, multi)


def _localise(scene: Any, folder: Path) -> None:
    """Copy every file the scene names into `folder` (refs/, masks/, depth/, meshes/) and point the scene there."""
    used: set[str] = set()

    def bring(path: str, sub: str) -> str:
        src = scene.resolve(path)
        if not src.is_file():
            raise AssetError(f"the dataset names {src}, which does not exist")
        name = f"{sub}/{src.name}"
        stem, n = src.stem, 1
        while name in used:  # two subjects' files with one name (refs/identity.png from different folders)
            name = f"{sub}/{stem}_{n}{src.suffix}"
            n += 1
        used.add(name)
        (folder / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, folder / name)
        return name

    for s in scene.subjects:
        s.ref = bring(s.ref, "refs")
        if s.placement.kind == "mask":
            s.placement.path = bring(s.placement.path, "masks")
        elif s.placement.kind == "mesh":
            s.placement.path = bring(s.placement.path, "meshes")
        if s.depth_map is not None:
            s.depth_map = bring(s.depth_map, "depth")
    scene.base_dir = folder


def make_set(dataset: Path, out: Path, *, single: int = 200, multi: int = 510,
             structures: Sequence[str] = ("mask_depth",), seed: int = 0, name: str | None = None,
             ground_truth: bool = False, force: bool = False,
             progress: Callable[[int], Callable[[str], None]] | None = None) -> MakeSetSummary:
    """Write an eval set into `out` from the dataset folder `dataset`."""
    if (out / INDEX).exists() and not force:
        raise SigmaError(f"{out} already holds an eval set", hint="pass --force to rebuild it, or another -o")
    if not structures:
        raise ConfigError("give at least one --structure")
    for st in structures:
        if st not in STRUCTURES:
            raise ConfigError(f"unknown structure mode '{st}'", hint=did_you_mean(st, STRUCTURES) or
                             f"use one of: {', '.join(STRUCTURES)}")
    samples = load_dataset(dataset)
    # Only samples that every requested mode can show, so each mode's rows are over the same samples.
    summary = MakeSetSummary()
    for st in structures:
        lacking = sum(not has_annotations(s, st) for s in samples)
        if lacking:
            summary.unusable[st] = lacking
    usable = [s for s in samples if all(has_annotations(s, st) for st in structures)]
    ones, many = choose_samples(usable, single, multi, seed)
    summary.single, summary.multi = len(ones), len(many)
    for label, want, got in (("single-subject", single, len(ones)), ("multi-subject", multi, len(many))):
        if got < want:
            summary.short.append(f"wanted {want} {label} samples, the dataset has {got} usable")
    chosen = ones + many
    if not chosen:
        raise AssetError(f"the dataset {dataset} has no sample with the annotations of {', '.join(structures)}")
    if force and (out / "cases").is_dir():
        shutil.rmtree(out / "cases")
    advance = progress(len(chosen) * len(structures)) if progress else None
    cases: list[Case] = []
    for sample in chosen:
        for structure in structures:
            cid = sample.id if len(structures) == 1 else f"{sample.id}.{structure}"
            folder = out / "cases" / cid
            if advance:
                advance(cid)
            scene = sample_to_scene(sample, Path(dataset), structure)
            _localise(scene, folder)
            (folder / "scene.sigma").write_text(dumps(scene), encoding="utf-8")
            target = Path(dataset) / sample.image
            if target.is_file():
                shutil.copy2(target, folder / f"target{target.suffix}")
                if ground_truth:
                    gt = out / "renders" / GROUND_TRUTH
                    gt.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(target, gt / f"{cid}{target.suffix}")
            cases.append(Case(id=cid, scene=f"cases/{cid}/scene.sigma"))
    EvalSet(name=name or Path(out).name, cases=cases).save(out)
    summary.cases = len(cases)
    return summary
