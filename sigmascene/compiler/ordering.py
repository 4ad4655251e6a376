"""Far-to-near subject order: which subject gets intensity 10, 20, ... and which identity block.

The rule (docs/maps.md, "Ordering"):
1. A subject's depth is, in this order of precedence: its explicit `depth`; the mean of its `depth_map` over
   its coverage; the view depth of its 3D box centre / mesh bounds centre.
2. A subject with no depth of its own but `behind X` / `in_front_of X` relations sits just beyond X's
   farthest pixel (behind) or at X's nearest pixel (in front), so the relation holds for every overlapping
   pixel; chains of relations propagate.
3. Subjects are sorted by that depth, far first, with every relation enforced as a hard constraint (a
   topological sort); ties keep file order.
4. A subject with no depth information at all sorts behind everything that has one, in file order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from ..scene import Scene


@dataclass
class DepthInfo:
    """What the compiler knows about one subject's depth before ordering."""

    own: float | None = None  # metres, from explicit depth / depth map / geometry
    source: str = "none"  # explicit | depth_map | geometry | relation | none
    lo: float | None = None  # nearest and farthest metric depth of its pixels
    hi: float | None = None


@dataclass
class Ordering:
    names: list[str]  # far -> near
    depth: dict[str, float | None]  # the depth each subject was sorted by (metric or relation-derived)
    source: dict[str, str]
    warnings: list[str] = field(default_factory=list)


def order_subjects(scene: Scene, info: dict[str, DepthInfo]) -> Ordering:
    names = [s.name for s in scene.subjects]
    file_index = {n: i for i, n in enumerate(names)}
    edges = [(far, near, rel) for far, near, rel in scene.depth_edges() if far in info and near in info]
    depth = {n: info[n].own for n in names}
    source = {n: info[n].source if info[n].own is not None else "none" for n in names}
    lo = {n: info[n].lo if info[n].lo is not None else depth[n] for n in names}
    hi = {n: info[n].hi if info[n].hi is not None else depth[n] for n in names}
    warnings: list[str] = []

    # Relation-only subjects take their depth from what they are related to; repeat for chains.
    for _ in range(len(names)):
        changed = False
        for n in names:
            if info[n].own is not None:
                continue
            beyond = [v for far, near, _ in edges if far == n and (v := hi[near]) is not None]
            before = [v for far, near, _ in edges if near == n and (v := lo[far]) is not None]
            if beyond and before:
                far_end, near_end = max(beyond), min(before)
                z = (far_end + near_end) / 2.0 if far_end <= near_end else far_end
            elif beyond:
                z = max(beyond)
            elif before:
                z = min(before)
            else:
                continue
            if depth[n] != z:
                depth[n], lo[n], hi[n], source[n], changed = z, z, z, "relation", True
        if not changed:
            break

    for far, near, rel in edges:
        a, b = info[far].own, info[near].own
        if a is not None and b is not None and a < b:
            where = f"{rel.loc}: " if rel.loc else ""
            verb = "behind" if rel.kind == "behind" else "in front of"
            subj, other = (far, near) if rel.kind == "behind" else (near, far)
            warnings.append(f"{where}'{subj}' is {verb} '{other}' by relation but its depth says otherwise "
                            f"({far} {a:.2f} m, {near} {b:.2f} m); the order follows the relation, "
                            f"the per-pixel maps follow the depths")

    # Kahn's algorithm: among subjects whose farther-side constraints are placed, take the farthest.
    preds = {n: 0 for n in names}
    succ: dict[str, list[str]] = {n: [] for n in names}
    for far, near, _ in edges:
        succ[far].append(near)
        preds[near] += 1

    def key(n: str) -> tuple:
        d = depth[n]
        return (0, 0.0, file_index[n]) if d is None else (1, -d, file_index[n])

    heap = [key(n) + (n,) for n in names if preds[n] == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        n = heapq.heappop(heap)[-1]
        order.append(n)
        for m in succ[n]:
            preds[m] -= 1
            if preds[m] == 0:
                heapq.heappush(heap, key(m) + (m,))
    if len(order) != len(names):  # a cycle: Scene.validate_scene reports it with locations first
        order += [n for n in names if n not in order]
    return Ordering(order, depth, source, warnings)
