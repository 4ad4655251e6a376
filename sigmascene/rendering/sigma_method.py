"""The `sigma` method (one pass: the SIGMA LoRA reads I_C and I_S) and the `iterative` baseline (one subject per
pass), each plain and inserted into a `background` photo: four entries of the method table, all thin calls of the
pipeline's own paths (model/pipeline.py, model/insert.py, model/iterative.py)."""

from __future__ import annotations

from typing import Any

from ..model.insert import render_insert
from ..model.iterative import render_iterative
from ..model.output import SigmaPipelineOutput
from .lora_kinds import SIGMA
from .method import MethodCall, MethodOutput, MethodSpec

SIGMA_SPEC = MethodSpec("sigma", "all subjects in one pass; needs a SIGMA LoRA (reads I_C and I_S)", own_lora=SIGMA,
                        flags=frozenset({"cache_conditions"}))
ITERATIVE_SPEC = MethodSpec("iterative", "the baseline: one subject per pass, far to near; needs a SIGMA LoRA",
                            own_lora=SIGMA, output_types=("pil", "np"))


def _common(call: MethodCall) -> dict[str, Any]:
    plan = call.plan
    return dict(prompt_mode=plan.prompt_mode, generator=call.generator, num_inference_steps=plan.steps,
                guidance_scale=plan.guidance, callback=call.progress, callback_on_step_end=call.step_end)


def _out(out: SigmaPipelineOutput | tuple) -> MethodOutput:
    assert isinstance(out, SigmaPipelineOutput)  # return_dict is left True
    return MethodOutput(images=out.images, timings=dict(out.timings))


def sigma_plain(call: MethodCall) -> MethodOutput:
    scene = call.compiled.scene
    kw = _common(call)
    from ..scene.prompts import build_prompt

    return _out(call.pipe(prompt=build_prompt(scene, kw.pop("prompt_mode")), control_image=call.compiled.control,
                          identity_image=call.compiled.identity, height=scene.canvas.height,
                          width=scene.canvas.width, cache_conditions=call.plan.cache_conditions,
                          output_type=call.output_type, **kw))


def sigma_insertion(call: MethodCall) -> MethodOutput:
    return _out(render_insert(call.pipe, call.compiled, feather=call.feather, output_type=call.output_type,
                              cache_conditions=call.plan.cache_conditions, **_common(call)))


def iterative_plain(call: MethodCall) -> MethodOutput:
    return _out(render_iterative(call.pipe, call.compiled, output_type=call.output_type, **_common(call)))


def iterative_insertion(call: MethodCall) -> MethodOutput:
    return _out(render_insert(call.pipe, call.compiled, feather=call.feather, iterative=True,
                              output_type=call.output_type, **_common(call)))
