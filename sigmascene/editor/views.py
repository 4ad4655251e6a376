"""What the page is shown: the scene as JSON with source locations, and the maps as pictures in preview's colours."""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..compiler.compiled import CompiledScene
from ..core.owned_cache import OwnedCache
from ..scene import KINDS, Node, Scene
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
        kind = KINDS[p.kind]
        if kind.solid and kind.mesh_file is not None:
            f = scene.resolve(getattr(p, kind.mesh_file))
            entry["mesh_bounds"] = _mesh_bounds(str(f), f.stat().st_mtime if f.exists() else 0.0)
        elif kind.solid:  # a unit box, scaled by its size
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
                                            "visible_fraction")} for e in compiled.manifest["subjects"]],
            "colours": {n: "rgb({},{},{})".format(*c) for n, c in subject_colours(compiled).items()}}


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _indexed(codes: np.ndarray, lut: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """A map of 8-bit codes as a palette PNG: the same colours as lut[codes], a third of the bytes to deflate."""
    img = Image.fromarray(np.ascontiguousarray(codes)).resize(size, Image.Resampling.NEAREST)
    img.putpalette(lut.astype(np.uint8).ravel().tolist())
    return img


def subject_colours(compiled: CompiledScene) -> dict[str, tuple[int, int, int]]:
    """Each subject's overlay colour, by its place in the file: moving it nearer never changes it (the page's
    palette(n) in api.js is the same function). The routing maps keep intensity colours: those follow order."""
    from ..compiler import preview

    names = [s.name for s in compiled.scene.subjects]
    return dict(zip(names, preview.palette(len(names))))


def map_size(compiled: CompiledScene, long_side: int) -> tuple[int, int]:
    w, h = compiled.scene.canvas.width, compiled.scene.canvas.height
    s = max(16, min(2048, long_side)) / max(w, h)  # a 64 px toy canvas is shown enlarged, labels readable
    return max(1, round(w * s)), max(1, round(h * s))


_PNGS = OwnedCache(48)


def map_png(compiled: CompiledScene, name: str, long_side: int = 1024) -> bytes:
    """One map as a PNG with the canvas's aspect (long side `long_side`), coloured as `preview` colours it
    (the layout in the stable subject colours). The page asks for the size it shows, which keeps redrawing
    during a drag cheap; a picture asked for twice is drawn once."""
    # I_S depends on the identity array alone, which the editor's incremental compile hands on unchanged while
    # the same references stay in the same order (compiler/reuse.py): the same picture, whatever moved
    owner: object = compiled.identity if name == "i_s" else compiled
    return _PNGS.get(owner, lambda: _draw_png(compiled, name, long_side), name, long_side)


def _draw_png(compiled: CompiledScene, name: str, long_side: int) -> bytes:
    from ..compiler import preview
    from ..core.vocab import routing_intensity

    size = map_size(compiled, long_side)
    n = len(compiled.order)
    if name == "layout":
        cols = subject_colours(compiled)
        return _png(preview._layout_panel(compiled, size, colours=[cols[o] for o in compiled.order]))
    if name in ("ir_asc", "ir_desc"):
        lut = np.zeros((256, 3), np.uint8)
        lut[:] = preview.MAP_BG
        lut[[routing_intensity(k + 1) for k in range(n)]] = preview.palette(n)
        return _png(_indexed(compiled.ir_asc if name == "ir_asc" else compiled.ir_desc, lut, size))
    if name == "i_t":
        return _png(_indexed(compiled.structure, _depth_lut(), size))
    if name == "i_s":
        img = compiled.identity_pil
        img.thumbnail((max(16, long_side), max(16, long_side) * 8))
        return _png(img)
    if name == "control":
        return _png(compiled.control_pil)
    if name == "layout_image":  # what the collage-style methods give the model: the subjects pasted in place
        from ..compiler.layout_image import layout_image

        return _png(layout_image(compiled).pil.resize(size, Image.Resampling.LANCZOS))
    raise KeyError(name)


@lru_cache(maxsize=1)
def _depth_lut() -> np.ndarray:
    from ..compiler import preview

    return preview._depth_lut()


METHOD_PICTURES = {"collage": "layout_image", "contextgen": "layout_image"}  # method -> the picture it is given


def frame_json(compiled: CompiledScene, revision: int, sizes: dict[str, int]) -> dict[str, Any]:
    """maps_json and the asked-for pictures in one answer (data URLs): during a drag the page makes one request
    per frame instead of one per picture."""
    out = maps_json(compiled, revision)
    out["images"] = {("method" if n == "layout_image" else n):
                     "data:image/png;base64," + base64.b64encode(map_png(compiled, n, px)).decode("ascii")
                     for n, px in sizes.items()}
    if "method" in out["images"]:
        out["method_note"] = "the layout image the method gives the model (the subjects pasted where they go)"
    return out
