"""The `contextgen` method: ContextGen's published LoRA and inference (model/contextgen/) fed from the scene.

What the scene hands over, per subject (in the scene's order): its reference cut out as the collage method cuts
it (matte, alpha, segmentation model, else the rectangle with a warning) and its box in canvas pixels — the
bounding box of its compiled region (the silhouette the compiler made from its 2D box, mask, polygon, 3D box or
mesh). The layout image is the collage method's layout (cut-outs painted far -> near, the routing maps' nearest
subject on top) as RGBA with alpha on subject pixels, passed as ContextGen's *given* layout: the scene's declared
depth order replaces ContextGen's random ordering of overlapping instances. The caption is the scene's compose
line and prompt, @-mentions read as words.

Every one of those inputs is written beside the render (`<stem>.layout.png`, `<stem>.ref_<k>.png`) and named in
the sidecar's `contextgen` block with the boxes, caption, seed, steps, guidance and size, so ContextGen's own
`generate()` can replay the render (docs/methods.md says how).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..compiler.cutouts import scene_cutouts
from ..compiler.layout_image import build_layout_image
from ..errors import SigmaError
from ..model.contextgen.adapter import ADAPTER_URL, CODE_URL, is_contextgen_lora
from ..model.contextgen.inputs import load_reference, reference_base_size
from ..model.contextgen.pipeline import ContextGenPipeline
from ..model.contextgen.prompt import edit_prompt
from ..model.contextgen.sequence import check_fits, sequence_layout
from ..model.lora import SIGMA_METADATA_KEY
from ..scene.prompts import rewrite_mentions, subject_phrase
from .lora_kinds import LoraHeader, register_lora_kind
from .method import MethodCall, MethodOutput, MethodSpec

if TYPE_CHECKING:
    from ..scene import Scene

CONTEXTGEN = "contextgen"
CONTEXTGEN_SPEC = MethodSpec(CONTEXTGEN, "ContextGen's LoRA (rank 512, MIT): masked references and the scene's "
                             "layout image, as its published inference", own_lora=CONTEXTGEN, grid=16,
                             default_guidance=3.5, flags=frozenset({"segmenter", "detector"}))


def _is_contextgen(h: LoraHeader) -> bool:
    return SIGMA_METADATA_KEY not in h.metadata and is_contextgen_lora(h.shapes)


register_lora_kind(CONTEXTGEN, "ContextGen's LoRA", _is_contextgen, first=True)


def contextgen_caption(scene: "Scene") -> str:
    """The scene's compose line, then its prompt, @-mentions as words; the subjects' phrases when it has neither."""
    phrases = {s.name: subject_phrase(s.name, s.caption) for s in scene.subjects}
    parts = []
    for field in ("compose", "prompt"):
        text = " ".join((getattr(scene, field) or "").split())
        if text:
            parts.append(rewrite_mentions(text, phrases, field=field, scene=scene).rstrip(". "))
    if not parts:
        parts = [" and ".join(phrases[s.name] for s in scene.subjects)]
    return ". ".join(parts) + "."


_last: list[tuple[Any, dict[str, Any]]] = []  # the inputs of the scene being rendered, made once per batch


def _inputs(call: MethodCall) -> dict[str, Any]:
    """References, boxes, layout and caption from the compiled scene, and the files / sidecar facts of them; made
    once for all seeds of a batch (warnings said once)."""
    if _last and _last[0][0] is call.compiled:
        return dict(_last[0][1])
    got = _make_inputs(call)
    _last[:] = [(call.compiled, got)]
    return dict(got)


def _make_inputs(call: MethodCall) -> dict[str, Any]:
    from PIL import Image

    compiled = call.compiled
    scene = compiled.scene
    segmenter = None
    if call.plan.segmenter is not None:  # the collage method's cut-out models, loaded the same way
        from .cutout_models import load_segmenter

        segmenter = load_segmenter(call.plan.segmenter, call.plan.detector, call.plan.model.device)
    cutouts, warnings = scene_cutouts(scene, segmenter=segmenter)
    layout = build_layout_image(compiled, cutouts)
    for line in warnings:
        if call.note is not None:
            call.note(line)
    width, height = scene.canvas.width, scene.canvas.height
    base = reference_base_size(height, width)
    refs: list[Any] = []
    names: list[str] = []
    locs: list[Any] = []
    files: dict[str, Any] = {}
    facts: list[dict[str, Any]] = []
    for subject in scene.subjects:
        box = layout.regions.get(subject.name)
        if box is None:
            if call.note is not None:
                call.note(f"{subject.name}: no visible region on the canvas, so ContextGen is not given it")
            continue
        picture = Image.fromarray(cutouts[subject.name].rgba, "RGBA")
        key = f"ref_{len(refs)}"
        files[key] = picture
        refs.append(load_reference(picture, box, base=base))
        names.append(subject.name)
        locs.append(subject.loc)
        facts.append({"subject": subject.name, "file": key, "bbox": list(box),
                      "cutout": cutouts[subject.name].source, "size": list(picture.size)})
    if not refs:
        raise SigmaError("no subject of this scene is visible on the canvas; ContextGen needs at least one", scene.loc)
    check_fits(sequence_layout((height // 16, width // 16), [r.token_size for r in refs]), names, locs)
    files["layout"] = layout.rgba_pil
    caption = contextgen_caption(scene)
    return {"refs": refs, "names": names, "locs": locs, "layout": layout.rgba_pil, "caption": caption,
            "files": files, "references": facts}


def _sidecar(call: MethodCall, got: dict[str, Any]) -> dict[str, Any]:
    scene = call.compiled.scene
    return {CONTEXTGEN: {
        "caption": got["caption"], "prompt": edit_prompt(got["caption"]),
        "references": got["references"], "layout": "layout",
        "height": scene.canvas.height, "width": scene.canvas.width, "seed": call.seed, "global_seed": call.seed,
        "num_inference_steps": call.plan.steps, "guidance_scale": call.plan.guidance,
        "condition_sampling": "sample", "files_note": "file values name keys of the sidecar's `files`",
        "replay": "torch.manual_seed(global_seed) right before ContextGen's generate(): it samples the reference "
                  "and layout latents from torch's global RNG (references in order, then the layout); "
                  "seed=[seed] seeds the noise; see docs/methods.md",
        "adapter": ADAPTER_URL, "code": CODE_URL, "lora": got["adapter_state"],
    }}


def _call(call: MethodCall, got: dict[str, Any]) -> dict[str, Any]:
    scene = call.compiled.scene
    return dict(prompt=got["caption"], references=got["refs"], layout_image=got["layout"],
                num_inference_steps=call.plan.steps, guidance_scale=call.plan.guidance,
                reference_names=got["names"], reference_locs=got["locs"], global_seed=call.seed,
                callback=call.progress, callback_on_step_end=call.step_end,
                height=scene.canvas.height, width=scene.canvas.width)


def _adapter_state(call: MethodCall) -> str:
    """Fuse ContextGen's adapter into the loaded base once, where that is cheaper (model/contextgen/memory.py);
    the state it is in, for the sidecar."""
    from pathlib import Path

    from ..model.contextgen.memory import fuse_adapter, fuse_decision

    pipe: Any = call.pipe
    done = getattr(pipe, "contextgen_adapter_state", None)
    if done is not None:
        return done
    ours = {lo.path.resolve() for lo in call.plan.model.loras if lo.kind == CONTEXTGEN and lo.weight == 1.0}
    names = [n for n, info in getattr(pipe, "lora_infos", {}).items()
             if info.path is not None and Path(info.path).resolve() in ours]
    fuse, why = fuse_decision(pipe)
    if fuse and len(names) == 1:
        fuse_adapter(pipe, names[0])
    else:
        why = why if not fuse else "kept as PEFT layers (weighted or several ContextGen adapters)"
    if call.note is not None:
        call.note(f"ContextGen's LoRA: {why}")
    pipe.contextgen_adapter_state = why
    return why


def contextgen_plain(call: MethodCall) -> MethodOutput:
    import time

    got = _inputs(call)
    got["adapter_state"] = _adapter_state(call)
    pipe = ContextGenPipeline.sharing(call.pipe)
    t0 = time.perf_counter()
    out = pipe(generator=call.generator, output_type=call.output_type, **_call(call, got))
    return MethodOutput(images=out.images, timings={"denoise_s": time.perf_counter() - t0},
                        sidecar=_sidecar(call, got), files=got["files"])


def contextgen_insertion(call: MethodCall) -> MethodOutput:
    import time

    from ..model.contextgen.insert import contextgen_insert

    got = _inputs(call)
    got["adapter_state"] = _adapter_state(call)
    pipe = ContextGenPipeline.sharing(call.pipe)
    compiled = call.compiled
    kw = _call(call, got)
    t0 = time.perf_counter()
    images, _ = contextgen_insert(pipe, compiled.background, compiled.blend_region, feather=int(call.feather or 0),
                                  generator=call.generator, output_type=call.output_type, **kw)
    return MethodOutput(images=images, timings={"denoise_s": time.perf_counter() - t0, "feather_px": call.feather or 0},
                        sidecar=_sidecar(call, got), files=got["files"])
