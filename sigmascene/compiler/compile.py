"""compile_scene: Scene -> CompiledScene, the one definition of the maps shared by inference and training.

Steps: load and validate every file the scene names (located errors, nothing written yet); draw flat
placements with the raster renderer and every 3D placement in one pyrender scene; order subjects far -> near;
composite IR_asc / IR_desc / visible depth; encode I_T; fit and stack the references; describe it all in the
manifest. Everything is in memory until `CompiledScene.save`.
"""

from __future__ import annotations

import numpy as np

from ..version import __version__
from ..errors import ConfigError, SceneValidationError, SourceLoc
from ..core.masks import mask_box
from ..renderers.camera import object_matrix, view_depth
from ..renderers.pyrender3d import Item3D, Render3D, camera_inside, render_3d, unit_box, world_bounds
from ..renderers.raster import flat_coverage
from ..scene import KINDS, Scene, Subject
from ..core.vocab import TOKEN_PIXELS, routing_intensity
from .assets import asset_notes, load_mask, load_mesh
from .background import blend_region, default_blend, load_background, photo_hides
from .compiled import GENERATOR, CompiledScene
from .depth import depth_range, encode_depth, load_depth_map
from .identity import UPSCALE_WARNING, reference_block, stack
from .ordering import DepthInfo, order_subjects
from .reuse import CompileReuse
from .routing import FAR_AWAY, Layer, composite

FORMAT = 1


def default_identity_size(width: int, height: int) -> tuple[int, int]:
    """Half the canvas, rounded to a multiple of 16 (the VAE's 8x downsampling times the 2x2 token patch)."""
    h, w = (max(16, int(v / 2 / 16 + 0.5) * 16) for v in (height, width))
    return h, w


def _at(loc: SourceLoc | None, message: str) -> str:
    return f"{loc}: warning: {message}" if loc else f"warning: {message}"


def _item(subject: Subject, scene: Scene) -> Item3D:
    """A solid placement as the 3D renderer takes it: a unit box, or the kind's mesh file, posed in the world."""
    p = subject.placement
    kind = KINDS[p.kind]
    origin, yaw, pitch, roll, scale = kind.pose(p)
    if kind.mesh_file is None:
        mesh = unit_box()
    else:
        mesh = load_mesh(scene.resolve(getattr(p, kind.mesh_file)), p.field_loc(kind.mesh_file))
    return Item3D(mesh, object_matrix(origin, yaw, pitch, roll, scale=scale), p.loc)


def _flat(subject: Subject, scene: Scene) -> np.ndarray:
    """Coverage of a flat placement: a coverage file (a mask) is loaded here (asset handling is the
    compiler's), shapes are drawn by their kind."""
    p = subject.placement
    field = KINDS[p.kind].coverage_file
    if field is not None:
        return load_mask(scene.resolve(getattr(p, field)), p.field_loc(field), scene.canvas.width,
                         scene.canvas.height)
    return flat_coverage(p, scene)


def compile_scene(scene: Scene, *, identity_size: tuple[int, int] | None = None,
                  blend_margin: int | None = None, reuse: CompileReuse | None = None) -> CompiledScene:
    """Compile a validated Scene into I_C, I_S and a manifest (see docs/maps.md for every definition). With a
    `background`, the photo fitted to the canvas and the blend region (`blend_margin` px around the subjects)
    come along, and the photo's depth hides subject pixels it is nearer than (docs/insertion.md). `blend_margin`
    None: `default_blend` of the canvas. `reuse` carries unchanged subjects' rasters and the 3D pass from one compile
    to the next (the editor's drag; compiler/reuse.py); the result is the same either way."""
    if not isinstance(scene, Scene):
        raise SceneValidationError(f"compile takes a Scene, got {type(scene).__name__} {scene!r:.60}",
                                   hint="load it first: sigmascene.load(path) for a file, sigmascene.loads(text) "
                                        "for text, or build sigmascene.Scene(...)")
    if blend_margin is None:
        blend_margin = default_blend(scene.canvas.width, scene.canvas.height)[0]
    if blend_margin < 0:
        raise ConfigError(f"blend margin must be zero or more pixels, got {blend_margin}")
    scene.validate_scene()
    width, height = scene.canvas.width, scene.canvas.height
    bh, bw = default_identity_size(width, height) if identity_size is None else identity_size
    if bh < TOKEN_PIXELS or bw < TOKEN_PIXELS or bh % TOKEN_PIXELS or bw % TOKEN_PIXELS:
        raise ConfigError(f"identity block size must be multiples of {TOKEN_PIXELS} pixels, got {bh}x{bw} (H' x W')")
    subjects = scene.subjects
    warnings: list[str] = []

    # Load everything first so that a bad file fails before any work is spent.
    background = load_background(scene)
    blocks = {s.name: reference_block(scene.resolve(s.ref), s.field_loc("ref"), bh, bw) for s in subjects}
    depth_maps = {s.name: load_depth_map(scene.resolve(s.depth_map), s.field_loc("depth_map"), width, height)
                  for s in subjects if s.depth_map}
    is3d = [KINDS[s.placement.kind].solid for s in subjects]
    items = {s.name: _item(s, scene) for s, three in zip(subjects, is3d) if three}
    flat = {s.name: _flat(s, scene) if reuse is None else reuse.flat(s, scene, _flat)
            for s, three in zip(subjects, is3d) if not three}
    for s in subjects:  # what the image loader changed (an animation cut to its first frame)
        image = KINDS[s.placement.kind].coverage_file
        named = [(s, "ref", s.ref)] + ([(s.placement, image, getattr(s.placement, image))] if image else [])
        warnings += [_at(node.field_loc(key), note)
                     for node, key, path in named for note in asset_notes(scene.resolve(path))]

    r3 = (render_3d if reuse is None else reuse.render_3d)(list(items.values()), scene.camera, width, height)
    ids3d = {name: k + 1 for k, name in enumerate(items)}

    layers_in: dict[str, dict] = {}
    info: dict[str, DepthInfo] = {}
    coverage: dict[str, np.ndarray] = {}
    extent: dict[str, tuple[list[int] | None, int]] = {}  # bbox and pixel count of each subject's coverage
    for s in subjects:
        def layer(s: Subject = s) -> tuple[dict, DepthInfo, list[str], np.ndarray, tuple[list[int] | None, int]]:
            said: list[str] = []
            spec, depth_info = _subject_layer(s, flat, items, ids3d, r3, depth_maps, scene, said)
            near, far = spec["near_mask"], spec["far_mask"]
            cov = near if near is far else near | far  # a flat subject's one mask is its coverage as it is
            # a cached flat mask (read-only: the same array next compile) keeps its summary; a fresh one is summed
            summary = reuse.extent(cov, _extent) if reuse is not None and not cov.flags.writeable else _extent(cov)
            return spec, depth_info, said, cov, summary

        if reuse is not None and s.name in items and s.name not in depth_maps:
            key = (s.model_dump_json(), str(s.field_loc("depth")), ids3d[s.name], scene.camera.model_dump_json(),
                   width, height)  # the location too: a warning it gives names the line
            out = reuse.layer(key, ids3d[s.name], r3, layer)
        else:
            out = layer()
        layers_in[s.name], info[s.name], said, coverage[s.name], extent[s.name] = out
        warnings += said

    ordering = order_subjects(scene, info)
    warnings += ordering.warnings
    order = ordering.names
    layers = []
    for k, name in enumerate(order):
        spec = layers_in[name]
        if spec["near_depth"] is None:  # no metric depth: a card at the depth the ordering gave it
            z = ordering.depth[name]
            spec = dict(spec, near_depth=FAR_AWAY if z is None else z, far_depth=FAR_AWAY if z is None else z)
        if background is not None and background.depth is not None:  # the photo covers what is behind it
            spec = dict(spec, near_mask=spec["near_mask"] & ~photo_hides(background.depth, spec["near_depth"],
                                                                         spec["metric"]),
                        far_mask=spec["far_mask"] & ~photo_hides(background.depth, spec["far_depth"], spec["metric"]))
        box = extent[name][0]  # the coverage's box holds the masks (photo_hides only removes pixels)
        layers.append(Layer(intensity=routing_intensity(k + 1), **spec, known_box=True,
                            box=None if box is None else (slice(box[1], box[3]), slice(box[0], box[2]))))
    ir_asc, ir_desc, visible = (composite if reuse is None else reuse.composite)(layers, height, width)
    has_depth = visible > 0
    structure = encode_depth(visible, has_depth)
    control = np.ascontiguousarray(np.stack([ir_asc, ir_desc, structure], axis=2))

    coverage = {name: coverage[name] for name in order}
    identity = (stack if reuse is None else reuse.stack)([blocks[n][0] for n in order], bh, bw)
    by_name = {s.name: s for s in subjects}
    entries = []
    for k, name in enumerate(order):
        s, blk = by_name[name], blocks[name][1]
        box, n_cov = extent[name]
        # a subject's intensity appears only inside its own coverage: count it in that box, not the canvas
        n_asc, n_desc = (0, 0) if box is None or routing_intensity(k + 1) >= 256 else \
            (int(np.count_nonzero(m[box[1]:box[3], box[0]:box[2]] == routing_intensity(k + 1)))
             for m in (ir_asc, ir_desc))
        if n_cov == 0:
            where = "outside the camera view" if name in items else "outside the canvas (it covers no pixel)"
            if name in items and camera_inside(items[name], scene.camera):
                where = ("around the camera: the camera is inside it, where no face of it faces the camera, "
                         "so it covers no pixel")
            warnings.append(_at(s.loc, f"subject '{name}' is {where}"))
        elif n_asc == 0 and n_desc == 0:
            warnings.append(_at(s.loc, f"subject '{name}' is hidden in both routing maps (covered by nearer "
                                       f"and farther subjects); the model cannot place it"))
        if blk.scale > UPSCALE_WARNING:
            warnings.append(_at(s.field_loc("ref"), f"reference of '{name}' is {blk.source_size[0]}x"
                                f"{blk.source_size[1]} px, enlarged {blk.scale:.1f}x to fit its {bw}x{bh} "
                                f"block; identity detail will be soft"))
        entries.append(_entry(s, k, ordering, box, n_cov, n_asc, blk, bh))
    manifest = {
        "generator": GENERATOR, "version": __version__, "format": FORMAT,
        "source": scene.file, "canvas": [width, height], "identity_block": [bh, bw],
        "seed": scene.seed, "prompt": scene.prompt, "compose": scene.compose,
        "camera": scene.camera.model_dump(mode="json"),
        "order": order,
        "structure": _structure_entry(visible, has_depth),
        "subjects": entries,
        "warnings": warnings,
    }
    region = None
    if background is not None:
        region = blend_region([lay.near_mask | lay.far_mask for lay in layers], (height, width), blend_margin)
        manifest["background"] = _background_entry(scene, background, region, blend_margin)
    return CompiledScene(scene=scene, order=order, control=control, identity=identity, manifest=manifest,
                         coverage=coverage, depth=_visible_depth(visible, has_depth),
                         warnings=warnings, background=None if background is None else background.rgb,
                         blend_region=region)


def _background_entry(scene: Scene, background, region: np.ndarray, margin: int) -> dict:
    box = mask_box(region)
    assert scene.background is not None  # called for scenes with a background only
    return {"path": scene.background.path, "depth": scene.background.depth,
            "photo_size": list(background.photo_size), "fit": "cover, centre crop",
            "blend_margin_px": margin, "blend_bbox_px": None if box is None else list(box),
            "blend_pixels": int(region.sum())}


def _subject_layer(s: Subject, flat: dict, items: dict, ids3d: dict, r3: Render3D, depth_maps: dict,
                   scene: Scene, warnings: list[str]) -> tuple[dict, DepthInfo]:
    """Per-pixel masks and depths of one subject, and what is known of its depth for ordering."""
    dmap = depth_maps.get(s.name)
    near_depth: np.ndarray | float | None
    far_depth: np.ndarray | float | None
    own: float | None
    lo: float | None
    hi: float | None
    if s.name in items:
        k = ids3d[s.name]
        near_mask, far_mask = r3.near_id == k, r3.far_id == k
        near_depth, far_depth = r3.near_depth, r3.far_depth
        metric: np.ndarray | bool = True
        if dmap is not None:  # a measured depth map is finer than a box: it wins where it has values
            near_depth = np.where(near_mask & (dmap > 0), dmap, near_depth)
        centre = world_bounds(items[s.name]).mean(axis=0)
        own, source = float(view_depth(centre[None], scene.camera)[0]), "geometry"
        if s.depth is not None:
            warnings.append(_at(s.field_loc("depth"), f"'{s.name}' has a 3D placement; its `depth` only "
                                                      f"orders it, its pixels keep the rendered depth"))
        ranges = (depth_range(near_depth, near_mask), depth_range(far_depth, far_mask))
        lo = min((r[0] for r in ranges if r), default=None)
        hi = max((r[1] for r in ranges if r), default=None)
    else:
        near_mask = far_mask = flat[s.name]
        own, source, lo, hi = None, "none", None, None
        near_depth = None
        metric = False
        if s.depth is not None:
            near_depth, metric, own, source, lo, hi = float(s.depth), True, float(s.depth), "explicit", \
                float(s.depth), float(s.depth)
        if dmap is not None:
            valid = near_mask & (dmap > 0)
            rng = depth_range(dmap, valid)
            if rng is not None:
                fallback = float(dmap[valid].mean()) if own is None else own
                near_depth, metric = np.where(valid, dmap, fallback).astype(np.float32), valid
                lo, hi = rng if own is None else (min(rng[0], own), max(rng[1], own))
                if own is None:
                    own, source = fallback, "depth_map"
        far_depth = near_depth
    if s.depth is not None:
        own, source = float(s.depth), "explicit"
    elif dmap is not None and source != "depth_map":
        valid = (near_mask | far_mask) & (dmap > 0)
        if valid.any():
            own, source = float(dmap[valid].mean()), "depth_map"
        else:
            warnings.append(_at(s.field_loc("depth_map"), f"depth map of '{s.name}' has no valid depth inside "
                                                          f"the subject; it is ignored"))
    spec = dict(near_mask=near_mask, far_mask=far_mask, near_depth=near_depth, far_depth=far_depth, metric=metric)
    return spec, DepthInfo(own=own, source=source, lo=lo, hi=hi)


def _extent(mask: np.ndarray) -> tuple[list[int] | None, int]:
    """([x0, y0, x1, y1] as the manifest lists it, pixel count) of a coverage mask."""
    box = mask_box(mask)
    return None if box is None else list(box), int(np.count_nonzero(mask))


def _visible_depth(visible: np.ndarray, has_depth: np.ndarray) -> np.ndarray:
    """`where(visible > 0, visible, 0)` as float32. When no value has its sign bit set and none is NaN (read as
    int32: all of them in 0..0x7f800000), that is `visible` itself, bit for bit: no 4 MB copy per compile."""
    bits = visible.view(np.int32) if visible.dtype == np.float32 else None
    if bits is not None and int(bits.min(initial=0)) >= 0 and int(bits.max(initial=0)) <= 0x7F800000:
        return visible
    return np.where(has_depth, visible, 0).astype(np.float32)


def _entry(s: Subject, k: int, ordering, bbox: list[int] | None, n_cov: int, n_asc: int, blk, bh: int) -> dict:
    d = ordering.depth[s.name]
    return {
        "name": s.name, "index": k + 1, "intensity": routing_intensity(k + 1),
        "placement": s.placement.model_dump(mode="json"),
        "ref": s.ref, "caption": s.caption, "depth_map": s.depth_map,
        "depth": None if d is None else round(float(d), 6), "depth_source": ordering.source[s.name],
        "bbox_px": bbox, "pixels": n_cov,
        "visible_fraction": round(n_asc / n_cov, 6) if n_cov else 0.0,
        "identity_rows": [k * bh, (k + 1) * bh],
        "ref_size": list(blk.source_size),
    }


def _structure_entry(visible: np.ndarray, has_depth: np.ndarray) -> dict:
    rng = depth_range(visible, has_depth)
    return {
        "encoding": "normalised inverse depth",
        "formula": "0 = no geometry; else 1 + round(254 * (1/d - 1/far) / (1/near - 1/far))",
        "near_m": None if rng is None else round(rng[0], 6),
        "far_m": None if rng is None else round(rng[1], 6),
    }
