"""The dataset a build leaves: `samples/<id>/` files, `index.jsonl` (kept samples, in id order), `rejects.jsonl`
(stage, filter and reason of every rejected sample) and the boxes, fitted here from the final masks and depth
with the existing open3d fitter and intrinsics from the config's field of view.

Assembly reads only finished stage outputs from the store and writes every file atomically, the index last and
whole; it is cheap, so a resumed build simply redoes it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ..geometry import intrinsics_from_fov, mask_box
from ..io import INDEX, write_bytes_atomic
from ..schema import CameraRecord, Prompts, Sample, SubjectRecord
from .plan import SAMPLE_ID_RE, Plan, sample_id

REJECTS = "rejects.jsonl"
SAMPLES = "samples"


def camera(plan: Plan) -> CameraRecord:
    b = plan.cfg.build
    fx, fy, cx, cy = intrinsics_from_fov(b.width, b.height, b.fov)
    return CameraRecord(fx=fx, fy=fy, cx=cx, cy=cy, width=b.width, height=b.height, estimated=True)


def _copy(src: Path, dst: Path) -> None:
    write_bytes_atomic(dst, src.read_bytes())


def assemble_sample(plan: Plan, index: int, results: dict) -> Sample:
    from ..fitboxes import SampleFitter

    sid = sample_id(index)
    folder = plan.out / SAMPLES / sid
    rel = f"{SAMPLES}/{sid}"
    scene = results["prompts"].data
    _copy(results["image"].path("image.png"), folder / "image.png")
    _copy(results["depth"].path("depth.npy"), folder / "depth.npy")
    subjects = []
    for s in scene["subjects"]:
        n = s["name"]
        _copy(results["segment"].path(f"{n}_mask.png"), folder / f"{n}_mask.png")
        _copy(results["repose"].path(f"{n}_identity.png"), folder / f"{n}_identity.png")
        det = results["segment"].data["detections"][n]
        subjects.append(SubjectRecord(
            name=n, identity=f"{rel}/{n}_identity.png", mask=f"{rel}/{n}_mask.png", caption=s["caption"],
            identity_id=f"{sid}-{n}",
            attributes={"category": s.get("category", ""), "detection_score": det["score"],
                        "identity_similarity": results["identity"].data["similarity"][n],
                        "repose_instruction": results["repose"].data["instructions"][n]}))
    sample = Sample(id=sid, image=f"{rel}/image.png", camera=camera(plan), depth=f"{rel}/depth.npy",
                    prompts=Prompts(background=scene["background"], full=scene["full"]), subjects=subjects,
                    source=f"build:{plan.cfg.config_hash()}")
    fitter = SampleFitter(sample, plan.out, upright=True, erode=1)
    for sub in sample.subjects:
        m = fitter.masks[sub.name]
        sub.box2d = mask_box(m)
        sub.box3d = fitter.box3d(sub.name)
    provenance = {"id": sid, "index": index, "config_hash": plan.cfg.config_hash(), "seeds": plan.seeds(index),
                  "keys": plan.keys(index), "models": plan.models()}
    write_bytes_atomic(folder / "build.json", (json.dumps(provenance, indent=2, sort_keys=True) + "\n").encode())
    return sample


def assemble(plan: Plan, count: int) -> dict:
    """Write index.jsonl, rejects.jsonl and the samples; returns kept / rejected counts by filter."""
    kept: list[Sample] = []
    rejects: list[str] = []
    by_filter: Counter[str] = Counter()
    missing = 0
    for i in range(count):
        keys = plan.keys(i)
        results, rejected = {}, None
        for s in plan.stages:
            got = plan.store.get(s, keys[s])
            if got is None:
                break
            if not got.ok:
                rejected = (s, got)
                break
            results[s] = got
        if rejected is not None:
            stage, got = rejected
            by_filter[got.filter] += 1
            rejects.append(json.dumps({"id": sample_id(i), "index": i, "stage": stage, "filter": got.filter,
                                       "reason": got.reason}, sort_keys=True))
        elif len(results) == len(plan.stages):
            kept.append(assemble_sample(plan, i, results))
        else:
            missing += 1
    write_bytes_atomic(plan.out / REJECTS, "".join(r + "\n" for r in rejects).encode())
    write_bytes_atomic(plan.out / INDEX, "".join(s.to_line() + "\n" for s in kept).encode())
    pruned = prune_samples(plan.out, {s.id for s in kept})
    return {"kept": len(kept), "rejected": len(rejects), "unfinished": missing, "pruned": pruned,
            "rejections": dict(sorted(by_filter.items()))}


def prune_samples(out: Path, kept: set[str]) -> int:
    """Remove the build's sample folders the new index does not list — left by an earlier run of this build with
    a larger --count (resumed smaller). Only folders named like a build sample go; their stage outputs stay in
    the work store, so growing --count again reuses them instead of recomputing. Returns how many went."""
    import re
    import shutil

    folder = out / SAMPLES
    if not folder.is_dir() or folder.is_symlink():
        return 0
    pruned = 0
    for p in sorted(folder.iterdir()):
        if p.name in kept or not re.fullmatch(SAMPLE_ID_RE, p.name):
            continue
        if p.is_symlink() or not p.is_dir():
            p.unlink()
        else:
            shutil.rmtree(p)
        pruned += 1
    return pruned


def stage_seconds(plan: Plan, count: int) -> dict[str, float]:
    """Mean model seconds per sample for each stage, over the samples that reached it."""
    out = {}
    for s in plan.stages:
        times = [r.seconds for i in range(count) if (r := plan.store.get(s, plan.keys(i)[s])) is not None]
        out[s] = sum(times) / len(times) if times else 0.0
    return out
