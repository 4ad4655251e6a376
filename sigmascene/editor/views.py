"""What the page is shown: the scene as JSON with source locations, and the maps as pictures in preview's colours."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..compiler.compiled import CompiledScene
from ..scene import Box3D, Mesh, Node, Scene
from .camera import camera_json

MAP_NAMES = ("layout", "ir_asc", "ir_desc", "i_t", "i_s", "control")


def _loc(node: Node, key: str | None = None) -> dict | None:
    loc = node.loc if key is None else node._locs.get(key)
    return None if loc is None else {"file": loc.file, "line": loc.line, "column": loc.column}


def _params_used(node: Node) -> dict[str, str]:
    return {k: v[0] for k, v in node._src.items() if isinstance(v[0], str) and v[0].startswith("$")}


@lru_cache(maxsize=64)
def _mesh_bounds(path: str, mtime: float) -> list | None:
    from ..compiler.assets import load_mesh

    try:
        m = load_mesh(Path(path), None)
        return np.asarray(m.bounds, float).tolist()
    except Exception:  # noqa: BLE001 - a missing mesh is reported by the compiler with its location
        return None


def scene_json(scene: Scene) -> dict[str, Any]:
    root = scene._file
    subjects = []
    for s in scene.subjects:
        p = s.placement
        entry: dict[str, Any]
        entry = {"name": s.name, "ref": s.ref, "caption": s.caption, "matte": s.matte, "depth": s.depth,
                 "depth_map": s.depth_map,
                 "relations": [{"kind": r.kind, "target": r.target} for r in s.relations],
                 "placement": p.model_dump(mode="json"), "loc": _loc(s),
                 "editable": s.loc is not None and s.loc.file == root,
                 "params": {**_params_used(s), **{f"placement.{k}": v for k, v in _params_used(p).items()}}}
        if isinstance(p, Mesh):
            f = scene.resolve(p.path)
            entry["mesh_bounds"] = _mesh_bounds(str(f), f.stat().st_mtime if f.exists() else 0.0)
        elif isinstance(p, Box3D):
            entry["mesh_bounds"] = [[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]]
        subjects.append(entry)
    return {
        "canvas": {"width": scene.canvas.width, "height": scene.canvas.height},
        "seed": scene.seed, "prompt": scene.prompt, "compose": scene.compose, "instruction": scene.instruction,
        "camera": camera_json(scene), "camera_params": _params_used(scene.camera),
        "params": [{"name": p.name, "value": p.value, "unit": p.unit, "loc": _loc(p),
                    "editable": p.loc is not None and p.loc.file == root} for p in scene.params],
        "includes": [{"path": i.path, "position": i.position} for i in scene.includes],
        "subjects": subjects,
    }


def maps_json(compiled: CompiledScene, revision: int) -> dict[str, Any]:
    return {"revision": revision, "order": compiled.order, "warnings": [str(w) for w in compiled.warnings],
            "structure": compiled.manifest["structure"],
            "subjects": [{k: e[k] for k in ("name", "intensity", "depth", "depth_source", "bbox_px", "pixels",
                                            "visible_fraction")} for e in compiled.manifest["subjects"]]}


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def map_png(compiled: CompiledScene, name: str, long_side: int = 1024) -> bytes:
    """One map as a PNG with the canvas's aspect (long side `long_side`), coloured as `preview` colours
    it. The page asks for the size it shows, which keeps redrawing after a drag cheap."""
    from ..compiler import preview

    w, h = compiled.scene.canvas.width, compiled.scene.canvas.height
    s = max(16, min(2048, long_side)) / max(w, h)  # a 64 px toy canvas is shown enlarged, labels readable
    size = (max(1, round(w * s)), max(1, round(h * s)))
    n = len(compiled.order)
    if name == "layout":
        return _png(preview._layout_panel(compiled, size))
    if name in ("ir_asc", "ir_desc"):
        return _png(preview._routing_panel(compiled.ir_asc if name == "ir_asc" else compiled.ir_desc, n, size))
    if name == "i_t":
        lut = preview._depth_lut()
        return _png(Image.fromarray(lut[compiled.structure]).resize(size, Image.Resampling.NEAREST))
    if name == "i_s":
        img = compiled.identity_pil
        img.thumbnail((max(16, long_side), max(16, long_side) * 8))
        return _png(img)
    if name == "control":
        return _png(compiled.control_pil)
    raise KeyError(name)
