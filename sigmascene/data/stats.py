"""`data stats`: what a dataset will teach, in counts.

The paper traces its identity decline with many subjects to the long tail of its subject-count distribution,
and copy-paste to identities seen in one pose only; these numbers (subjects per image, where subjects sit,
how often an identity recurs, which annotations exist) are the ones that predict such failures before training.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .schema import Sample

GRID = 3  # placement coverage: a GRID x GRID histogram of subject box centres


def dataset_stats(samples: list[Sample]) -> dict[str, Any]:
    """Plain-data summary (JSON-serialisable) of a loaded dataset."""
    subjects = [sub for s in samples for sub in s.subjects]
    n_sub = len(subjects)
    per_image = Counter(len(s.subjects) for s in samples)
    grid = np.zeros((GRID, GRID), dtype=int)
    no_box = 0
    for s in samples:
        for sub in s.subjects:
            if sub.box2d is None:
                no_box += 1
                continue
            cx = (sub.box2d[0] + sub.box2d[2]) / 2 / s.width
            cy = (sub.box2d[1] + sub.box2d[3]) / 2 / s.height
            grid[min(int(cy * GRID), GRID - 1), min(int(cx * GRID), GRID - 1)] += 1
    ids = Counter(sub.identity_id or sub.identity for sub in subjects)
    reuse = Counter(ids.values())
    vis = [sub.visible_fraction for sub in subjects if sub.visible_fraction is not None]
    dist = [-sub.box3d.center[2] for sub in subjects if sub.box3d is not None]
    area = [(sub.box2d[2] - sub.box2d[0]) * (sub.box2d[3] - sub.box2d[1]) / (s.width * s.height)
            for s in samples for sub in s.subjects if sub.box2d is not None]

    def frac(k: int, of: int) -> float:
        return round(k / of, 4) if of else 0.0

    return {
        "samples": len(samples),
        "subjects": n_sub,
        "subjects_per_image": {str(k): per_image[k] for k in sorted(per_image)},
        "image_sizes": {f"{w}x{h}": c for (w, h), c in Counter((s.width, s.height) for s in samples).most_common()},
        "annotations": {
            "depth": frac(sum(s.depth is not None for s in samples), len(samples)),
            "extrinsics": frac(sum(s.camera.cam_to_world is not None for s in samples), len(samples)),
            "mask": frac(sum(sub.mask is not None for sub in subjects), n_sub),
            "box2d": frac(sum(sub.box2d is not None for sub in subjects), n_sub),
            "box3d": frac(sum(sub.box3d is not None for sub in subjects), n_sub),
            "caption": frac(sum(bool(sub.caption) for sub in subjects), n_sub),
            "full_prompt": frac(sum(bool(s.prompts.full) for s in samples), len(samples)),
        },
        "placement_grid": grid.tolist(),  # rows top to bottom, columns left to right: subject box centres
        "subjects_without_box2d": no_box,
        "box_area_fraction": _quantiles(area),
        "distance_m": _quantiles(dist),
        "visible_fraction": _histogram(vis, [0, 0.25, 0.5, 0.75, 0.999, 1.0001]),
        "identities": {
            "distinct": len(ids),
            "used_once": reuse.get(1, 0),
            "used_2_to_5": sum(c for k, c in reuse.items() if 2 <= k <= 5),
            "used_more_than_5": sum(c for k, c in reuse.items() if k > 5),
            "max_uses": max(ids.values(), default=0),
        },
        "shapes": dict(Counter(str(sub.attributes["shape"]) for sub in subjects if "shape" in sub.attributes)
                       .most_common()),
        "sources": dict(Counter(s.source.split(":")[0] for s in samples).most_common()),
    }


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    q = np.quantile(np.asarray(values, dtype=np.float64), [0.0, 0.1, 0.5, 0.9, 1.0])
    return dict(zip(["min", "p10", "median", "p90", "max"], (round(float(v), 4) for v in q)))


def _histogram(values: list[float], edges: list[float]) -> dict[str, int]:
    if not values:
        return {}
    counts, _ = np.histogram(np.asarray(values), bins=edges)
    labels = ["<25%", "25-50%", "50-75%", "75-99.9%", "fully visible"]
    return {label: int(c) for label, c in zip(labels, counts)}


def render_stats(stats: dict[str, Any], root: str | Path) -> str:
    """The summary as the text `data stats` prints."""
    out = [f"dataset {root}: {stats['samples']} samples, {stats['subjects']} subjects "
           f"({', '.join(f'{k}: {v}' for k, v in stats['image_sizes'].items())})", "", "subjects per image"]
    per = stats["subjects_per_image"]
    top = max(per.values(), default=1)
    for k, v in per.items():
        out.append(f"  {k:>3} {'#' * max(1, round(40 * v / top)) if v else '':<40} {v}")
    out += ["", "annotations (share of samples / subjects that have them)"]
    out += [f"  {k:<12} {v:6.1%}" for k, v in stats["annotations"].items()]
    out += ["", f"placement coverage: subject box centres on a {GRID}x{GRID} grid (top row = top of image)"]
    n = max(1, sum(map(sum, stats["placement_grid"])))
    for row in stats["placement_grid"]:
        out.append("  " + "  ".join(f"{c / n:6.1%}" for c in row))
    for key, title in (("box_area_fraction", "box area / image"), ("distance_m", "distance from camera (m)")):
        if stats[key]:
            out.append(f"{title}: " + ", ".join(f"{k} {v:g}" for k, v in stats[key].items()))
    if stats["visible_fraction"]:
        out.append("visible fraction: " + ", ".join(f"{k} {v}" for k, v in stats["visible_fraction"].items()))
    i = stats["identities"]
    out += ["", f"identities: {i['distinct']} distinct; used once {i['used_once']}, 2-5 times {i['used_2_to_5']}, "
            f">5 times {i['used_more_than_5']}; most reused {i['max_uses']} times"]
    if stats["shapes"]:
        out.append("shapes: " + ", ".join(f"{k} {v}" for k, v in stats["shapes"].items()))
    return "\n".join(out)
