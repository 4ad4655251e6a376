"""ContextGen's LoRA file: how to recognise it, and the facts a render states about it.

ContextGen publishes a plain diffusers/PEFT LoRA (`transformer.<module>.lora_A/B.weight`, rank 512, no alpha
keys, no metadata — so diffusers' loader uses scale 1) over a distinctive set of layers, from its training
config: `x_embedder`; in the double-stream blocks the image stream's `norm1.linear`, `attn.to_q/k/v`,
`attn.to_out.0`, `ff.net.2` (nothing on the text stream); in the single-stream blocks `norm.linear`, `proj_mlp`,
`proj_out`, `attn.to_q/k/v`. No other published Flux LoRA adapts `x_embedder` together with the AdaLN
modulation layers and leaves every text-stream layer alone, so the module set identifies it (any rank: a test's
tiny adapter is recognised the same way). It loads through diffusers' `load_lora_weights`, as their inference
loads it.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

PUBLISHED_RANK = 512
ADAPTER_URL = "https://huggingface.co/ruihangxu/ContextGen"
CODE_URL = "https://github.com/nenhang/ContextGen"

_DOUBLE = ("norm1.linear", "attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0", "ff.net.2")
_SINGLE = ("norm.linear", "proj_mlp", "proj_out", "attn.to_q", "attn.to_k", "attn.to_v")
_MODULE = re.compile(r"^(?:(x_embedder)|transformer_blocks\.(\d+)\.(.+)|single_transformer_blocks\.(\d+)\.(.+))$")

#: ContextGen's training target regex (PEFT full-match on module names), for building adapters in its format.
TARGET_REGEX = (r"(.*x_embedder|.*(?<!single_)transformer_blocks\.[0-9]+\.(norm1\.linear|attn\.to_[qkv]|"
                r"attn\.to_out\.0|ff\.net\.2)|.*single_transformer_blocks\.[0-9]+\.(norm\.linear|proj_mlp|proj_out|"
                r"attn\.to_[qkv]|attn\.to_out))")


def lora_modules(keys: Any) -> set[str]:
    """Module names (without `transformer.`) of a LoRA state dict's or header's keys."""
    out = set()
    for k in keys:
        if ".lora_" in k:
            out.add(k.removeprefix("transformer.").split(".lora_")[0])
    return out


def is_contextgen_lora(keys: Any) -> bool:
    """Whether a LoRA's keys are ContextGen's layer set: every module one it adapts, x_embedder and at least one
    block of each kind present, each present block complete."""
    mods = lora_modules(keys)
    if "x_embedder" not in mods:
        return False
    double: dict[int, set[str]] = {}
    single: dict[int, set[str]] = {}
    for m in mods:
        hit = _MODULE.match(m)
        if hit is None:
            return False
        if hit.group(2) is not None:
            if hit.group(3) not in _DOUBLE:
                return False
            double.setdefault(int(hit.group(2)), set()).add(hit.group(3))
        elif hit.group(4) is not None:
            if hit.group(5) not in _SINGLE:
                return False
            single.setdefault(int(hit.group(4)), set()).add(hit.group(5))
    if not double or not single:
        return False
    return all(v == set(_DOUBLE) for v in double.values()) and all(v == set(_SINGLE) for v in single.values())


def contextgen_lora_facts(shapes: Mapping[str, Any]) -> dict[str, Any]:
    """What a sidecar says about a ContextGen adapter: its rank, layer count, and whether it has the published
    rank."""
    ranks = sorted({tuple(v)[0] for k, v in shapes.items() if k.endswith("lora_A.weight")})
    mods = lora_modules(shapes)
    return {"kind": "contextgen", "rank": ranks[0] if len(ranks) == 1 else ranks, "layers": len(mods),
            "published_rank": ranks == [PUBLISHED_RANK]}
