"""The editing requests: each turns a JSON change into a text change through edits.TextEdit.

Reorder rule (docs/editor.md): the subject list is far -> near, the compiler's order. Dropping subject S between
a farther neighbour F and a nearer neighbour N gives S the depth halfway between theirs (the compiler's sort
depths); at the far end, N's depth + 0.5 m; at the near end, 80 % of F's. A flat placement gets that as its
`depth`; a 3D placement is moved along its camera ray until its centre is at that depth (it keeps its place in
the picture). Relations of S that would contradict the new position are removed, since they outrank depths.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import SigmaError
from ..scene import KINDS, Scene
from . import edits
from .camera import along_ray_to_depth
from .edits import TextEdit
from .schemas import MaskTransform, ReorderBody, SceneChange, SubjectChange
from .state import EditorState


def _subject(scene: Scene, name: str):
    s = scene.subject(name)
    if s is None:
        raise SigmaError(f"no subject named '{name}'")
    return s


def _num(v: Any, what: str) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise SigmaError(f"{what} must be a number, got {v!r}") from None


def patch_subject(st: EditorState, name: str, data: SubjectChange) -> None:
    """One subject's change, checked by `schemas.SubjectChange` (every value has the type used here)."""

    def change(text: str, scene: Scene) -> str:
        subj = _subject(scene, name)
        ed = TextEdit(text, scene)
        if data.kind is not None and data.kind != subj.placement.kind:
            if data.bbox is None:
                raise SigmaError("switching the placement kind needs the region's bbox [x0, y0, x1, y1]")
            new = edits.convert_placement(data.kind, subj, scene, data.bbox, subj.depth)
            ed.replace_item(subj, subj.placement, edits.placement_text(new))
        elif data.mask_transform is not None and (image := KINDS[subj.placement.kind].coverage_file):
            ed.string(subj.placement, image, moved_mask(st, scene, subj, data.mask_transform))
        elif data.placement is not None:
            edits.set_placement_fields(ed, subj, data.placement.fields())
        if data.named("depth"):
            edits.set_depth(ed, subj, data.depth)
        if data.caption is not None:
            edits.set_caption(ed, subj, data.caption)
        if data.ref is not None:
            from .security import confine

            confine(st.root, data.ref)
            ed.string(subj, "ref", data.ref)
        if data.name is not None and data.name != name:
            edits.rename(ed, subj, data.name)
        return ed.result()

    _apply(st, change, data.coalesce)


def _apply(st: EditorState, change, coalesce: str | None) -> None:
    """Apply a change only if the new text is a valid scene: the picture never makes a broken file."""
    with st.doc.lock:
        p = st.doc.parsed()
        if p.scene is None:
            raise SigmaError("fix the errors in the source first; the picture edits a valid scene")
        try:
            new = change(st.doc.text, p.scene)
        except ValueError as err:  # a node the change would build is not valid (pydantic's ValidationError too)
            raise SigmaError(f"that change makes an invalid placement: {_first_line(err)}") from None
        parsed = st._parse(new)
        if parsed.scene is None:
            raise SigmaError(parsed.diagnostics)
        st.doc.set_text(new, coalesce)
        st.doc._parsed = parsed


def _first_line(err: Exception) -> str:
    errors = getattr(err, "errors", None)
    if callable(errors):
        e = errors()[0]
        return f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}".lstrip(": ")
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def patch_scene(st: EditorState, data: SceneChange) -> None:
    """Scene-wide changes, checked by `schemas.SceneChange`."""

    def change(text: str, scene: Scene) -> str:
        ed = TextEdit(text, scene)
        cam = data.camera
        if cam is not None:
            c = scene.camera
            for key in ("position", "look_at"):
                vec = getattr(cam, key)
                if vec is not None:
                    for i, v in enumerate(vec):
                        if f"{key}.{i}" in c._locs and v != (getattr(c, key) or (None,) * 3)[i]:
                            ed.number(c, f"{key}.{i}", v, "length")
                        elif f"{key}.{i}" not in c._locs:
                            raise SigmaError(f"the file's camera has no `{key}` to change; add it in the source")
            if cam.fov is not None and cam.fov != c.fov:
                if "fov" not in c._locs:
                    raise SigmaError("the file's camera has no `fov` to change; add it in the source")
                ed.number(c, "fov", cam.fov, "angle")
        canvas = data.canvas
        if canvas is not None:
            for key in ("width", "height"):
                value = getattr(canvas, key)
                if value is not None and value != getattr(scene.canvas, key):
                    if key not in scene.canvas._locs:
                        raise SigmaError("the file has no `canvas` statement to change; add it in the source")
                    ed.number(scene.canvas, key, value, "plain")
        for key in ("prompt", "compose", "instruction"):
            value = getattr(data, key, None)  # `instruction` (collage) only when the edit schema carries it
            if value is not None and value != getattr(scene, key):
                if key not in scene._locs:
                    raise SigmaError(f"the file has no `{key}` statement to change; add it in the source")
                ed.string(scene, key, value)
        for pname, value in (data.params or {}).items():
            p = scene.param(pname)
            if p is None:
                raise SigmaError(f"no param named '{pname}'")
            if isinstance(p.value, str):
                ed.replace(*ed._own(p, "value"), json.dumps(str(value), ensure_ascii=False))
            else:
                ed._param_number(pname, _num(value, pname), "plain", None, None)
        return ed.result()

    _apply(st, change, data.coalesce)


def reorder(st: EditorState, name: str, data: ReorderBody) -> None:
    """Move `name` to position `index` of the far -> near list (see the module docstring for the rule)."""
    compiled, diags, _ = st.compiled()
    if compiled is None:
        raise SigmaError("the scene must compile before subjects can be reordered")
    order = list(compiled.order)
    if name not in order:
        raise SigmaError(f"no subject named '{name}'")
    index = data.index
    rest = [n for n in order if n != name]
    index = max(0, min(len(rest), index))
    depths = {e["name"]: e["depth"] for e in compiled.manifest["subjects"]}
    sources = {e["name"]: e["depth_source"] for e in compiled.manifest["subjects"]}
    far = rest[index - 1] if index > 0 else None
    near = rest[index] if index < len(rest) else None
    d_far = depths.get(far) if far else None
    d_near = depths.get(near) if near else None
    if d_far is not None and d_near is not None:
        target = (d_far + d_near) / 2.0
    elif d_near is not None:
        target = d_near + 0.5
    elif d_far is not None:
        target = d_far * 0.8
    else:
        target = 3.0
    farther = set(rest[:index])
    nearer = set(rest[index:])

    def change(text: str, scene: Scene) -> str:
        subj = _subject(scene, name)
        ed = TextEdit(text, scene)
        p = subj.placement
        key = KINDS[p.kind].origin
        if KINDS[p.kind].solid and key is not None:
            moved = along_ray_to_depth(scene, getattr(p, key), target)
            edits.set_placement_fields(ed, subj, {key: list(moved)})
            if subj.depth is not None:
                edits.set_depth(ed, subj, None)
        else:
            edits.set_depth(ed, subj, target)
        for other in _drop_contradictions(ed, scene, name, farther, nearer):
            o = scene.subject(other)
            if o is not None and o.depth is None and sources.get(other) == "relation" and depths.get(other) \
                    and not KINDS[o.placement.kind].solid:
                edits.set_depth(ed, o, depths[other])  # it keeps the place its relation gave it
        return ed.result()

    _apply(st, change, None)


def _drop_contradictions(ed: TextEdit, scene: Scene, name: str, farther: set[str], nearer: set[str]) -> list[str]:
    """Remove relations that contradict the new order; return the subjects that held them."""
    holders = []
    for s in scene.subjects:
        for r in s.relations:
            far, near = (s.name, r.target) if r.kind == "behind" else (r.target, s.name)
            bad = (far == name and near in farther) or (near == name and far in nearer)
            if bad and r.loc is not None and r.loc.file == ed.file:
                ed.remove_statement(*ed._own(r))
                holders.append(s.name)
    return holders


def moved_mask(st: EditorState, scene: Scene, subj, t: MaskTransform) -> str:
    """Move/scale a mask by writing a new mask image beside the old one (the old file is left as it was).

    The new file's folder is the old mask's resolved folder, checked inside the root, and the file is created
    exclusively under a free name (files.write_free): never through a link, dangling or not."""
    import io
    import os

    import numpy as np
    from PIL import Image

    from ..compiler.assets import load_mask
    from .files import write_free
    from .security import confine

    w, h = scene.canvas.width, scene.canvas.height
    field = KINDS[subj.placement.kind].coverage_file or "path"
    src = confine(st.root, os.path.relpath(scene.resolve(getattr(subj.placement, field)), st.root))
    m = load_mask(src, subj.placement.loc, w, h)
    k = t.scale
    if not 0.05 <= k <= 20:
        raise SigmaError("mask scale must be between 0.05 and 20")
    if not all(abs(v) <= 100 for v in (t.dx, t.dy, *(t.origin or (0.0, 0.0)))):
        raise SigmaError("mask_transform dx, dy and origin are canvas fractions; keep them within ±100")
    ox, oy = t.origin or (0.0, 0.0)
    ox, oy = ox * w, oy * h
    dx, dy = t.dx * w, t.dy * h
    # output pixel (x, y) takes input pixel ((x - dx - ox) / k + ox, (y - dy - oy) / k + oy)
    img = Image.fromarray(m.astype(np.uint8) * 255).transform(
        (w, h), Image.Transform.AFFINE, (1 / k, 0, ox - (dx + ox) / k, 0, 1 / k, oy - (dy + oy) / k),
        Image.Resampling.NEAREST)
    if not np.asarray(img).any():
        raise SigmaError("the mask would leave the canvas")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    target = write_free(src.parent, f"{src.stem.split('-edit')[0]}-edit", lambda base: {".png": buf.getvalue()})
    return os.path.relpath(target, scene.base_dir).replace(os.sep, "/")
