"""`joint_attention_kwargs` read the way stock diffusers' Flux transformer reads them.

Code written for `FluxKontextPipeline` passes these through unchanged, so each key must mean what it means there
(diffusers 0.42, `FluxTransformer2DModel.forward` / `FluxAttention.forward`):

* `scale`: the LoRA scale, applied to every LoRA layer for the call;
* `attention_mask`: given to the attention processor, which hands it to SDPA over the joint sequence; SIGMA's
  attention does the same over its sequence [P, X, I_S, I_C];
* `ip_adapter_image_embeds` (and the `ip_hidden_states` / `ip_adapter_masks` they become): stock would add an
  IP-Adapter's attention. SIGMA has none, and dropping them would silently change the picture, so they are refused;
* anything else: stock logs "are not expected ... and will be ignored" and goes on; here that is a visible
  `UserWarning` (library logging is often quiet), and the key is ignored.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from ..errors import SigmaError

IP_ADAPTER_KEYS = ("ip_adapter_image_embeds", "ip_hidden_states", "ip_adapter_masks")
KNOWN_KEYS = ("scale", "attention_mask")


@dataclass(frozen=True)
class AttentionKwargs:
    """What a call's `joint_attention_kwargs` ask of SIGMA's attention."""

    scale: float = 1.0
    attention_mask: Any = None


def read_joint_attention_kwargs(kwargs: dict[str, Any] | None, *, stacklevel: int = 2) -> AttentionKwargs:
    """Split the user's dict (left unchanged) into the LoRA scale and the attention mask; warn about the rest.

    `stacklevel` counts from the caller of this function, as in `warnings.warn`, so the warning can point at the
    user's own line rather than at the pipeline.
    """
    kwargs = dict(kwargs or {})
    ip = [k for k in IP_ADAPTER_KEYS if k in kwargs]
    if ip:
        raise SigmaError(f"joint_attention_kwargs {ip}: SigmaPipeline has no IP-Adapter: a subject's identity "
                         "comes from its reference image in I_S (the identity dictionary), not from image embeds",
                         hint="drop the IP-Adapter arguments; give the subject a `ref` image in the scene, or pass "
                              "its picture in `identity_image`")
    ignored = sorted(k for k in kwargs if k not in KNOWN_KEYS)
    if ignored:
        warnings.warn(f"joint_attention_kwargs {ignored} are not expected by SigmaPipeline's attention and will be "
                      f"ignored (as diffusers does; it understands {list(KNOWN_KEYS)})", UserWarning,
                      stacklevel=stacklevel + 1)
    try:
        scale = float(kwargs.get("scale", 1.0))
    except (TypeError, ValueError):
        raise SigmaError(f"joint_attention_kwargs['scale'] must be a number (the LoRA scale), "
                         f"got {kwargs['scale']!r}") from None
    return AttentionKwargs(scale=scale, attention_mask=kwargs.get("attention_mask"))
