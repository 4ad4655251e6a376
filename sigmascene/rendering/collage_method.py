"""The `collage` method: stock FLUX.1 Kontext reads one canvas-sized layout image (the references cut out and
painted far -> near at their places) and an edit instruction. Training-free: it needs no LoRA.

The compiler builds the layout image (compiler/layout_image.py) and the scene gives the instruction
(scene/prompts.py `build_instruction`); model/collage.py calls diffusers' own FluxKontextPipeline on them. The
sidecar gets what it takes to repeat the render with stock diffusers: the instruction, the layout file (written
beside the render as NAME.layout.png, canvas-sized) and the exact call.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ..compiler.layout_image import NEUTRAL_FILL, LayoutImage, layout_image
from ..model.collage import GENERATOR, render_collage, stock_call_kwargs
from ..scene.prompts import build_instruction
from .method import MethodCall, MethodOutput, MethodSpec

if TYPE_CHECKING:
    from ..scene.compiled import CompiledScene

COLLAGE_SPEC = MethodSpec("collage", "training-free: stock Kontext reads one layout image of the cut-out "
                          "references; needs no LoRA (style LoRAs may be stacked)",
                          flags=frozenset({"segmenter", "detector"}))

_last: list[tuple["CompiledScene", LayoutImage]] = []  # the layout of the scene being rendered, one per batch


def collage_layout(call: MethodCall) -> LayoutImage:
    """The layout image of the call's compiled scene, made once for all seeds of a batch (its warnings said
    once), with the plan's segmentation model when one is named."""
    if _last and _last[0][0] is call.compiled:
        return _last[0][1]
    segmenter = None
    if call.plan.segmenter is not None:
        from .cutout_models import load_segmenter

        segmenter = load_segmenter(call.plan.segmenter, call.plan.detector, call.plan.model.device)
    layout = layout_image(call.compiled, segmenter=segmenter)
    for line in layout.warnings:
        if call.note is not None:
            call.note(line)
    _last[:] = [(call.compiled, layout)]
    return layout


def collage_facts(layout: LayoutImage, instruction: str, call: MethodCall) -> dict[str, Any]:
    """What the sidecar records: enough to repeat the render with stock diffusers."""
    h, w = layout.rgb.shape[:2]
    photo = call.compiled.background is not None
    return {
        "instruction": instruction,
        "layout": {"size": [w, h], "sha256": hashlib.sha256(layout.rgb.tobytes()).hexdigest(),
                   "background": "the background photo" if photo else {"fill": list(NEUTRAL_FILL)},
                   "cutouts": dict(layout.sources), "boxes_px": {k: list(v) if v else None
                                                                 for k, v in layout.boxes.items()},
                   "order": list(layout.order)},
        "diffusers": {"pipeline": "diffusers.FluxKontextPipeline", "image": "files.layout (RGB PNG)",
                      "generator": GENERATOR, "output": "pasted back into the background photo" if photo else None,
                      "call": stock_call_kwargs(instruction, h, w, call.plan.steps, call.plan.guidance)},
    }


def _render(call: MethodCall, insertion: bool) -> MethodOutput:
    layout = collage_layout(call)
    instruction = build_instruction(call.compiled.scene)
    compiled = call.compiled
    extra: dict[str, Any] = {}
    if insertion:
        extra = dict(photo=compiled.background, region=compiled.blend_region, feather=call.feather or 0)
    out = render_collage(call.pipe, layout.pil, instruction, generator=call.generator,
                         num_inference_steps=call.plan.steps, guidance_scale=call.plan.guidance,
                         output_type=call.output_type, callback=call.progress, callback_on_step_end=call.step_end,
                         **extra)
    return MethodOutput(images=out.images, timings=dict(out.timings), sidecar=collage_facts(layout, instruction, call),
                        files={"layout": layout.pil})


def collage_plain(call: MethodCall) -> MethodOutput:
    return _render(call, insertion=False)


def collage_insertion(call: MethodCall) -> MethodOutput:
    return _render(call, insertion=True)
