"""ContextGen's masked joint attention as a diffusers attention processor on the stock FluxTransformer2DModel.

The transformer is not forked: the stock forward runs its stock blocks, and each block's `FluxAttention` gets a
`ContextGenAttnProcessor` that knows which of the two masks its block uses. The masks themselves travel per call
in `joint_attention_kwargs["contextgen_masks"]` (diffusers hands every key its processor's signature names to the
processor). The math is Flux's joint attention — q/k/v, RMS q/k norms, text first, RoPE on q and k over the whole
sequence — with one SDPA call under a boolean mask; peft LoRA layers, GGUF and layerwise-casting hooks keep
working because only the module's own Linear layers are called.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, cast

if TYPE_CHECKING:
    import torch

    from .masks import ContextGenMasks

LAYOUT_ONLY = "layout_only"
REFERENCE_AWARE = "reference_aware"
KWARG = "contextgen_masks"


class ContextGenAttnProcessor:
    """Joint attention under one of ContextGen's masks (`which`: "layout_only" | "reference_aware").

    Without `contextgen_masks` it is plain Flux joint attention (with the caller's `attention_mask`, if any), so a
    transformer left with these processors still renders like stock."""

    def __init__(self, which: str):
        if which not in (LAYOUT_ONLY, REFERENCE_AWARE):
            raise ValueError(f"unknown ContextGen mask {which!r}")
        self.which = which

    def __call__(self, attn: Any, hidden_states: "torch.Tensor", encoder_hidden_states: "torch.Tensor | None" = None,
                 attention_mask: "torch.Tensor | None" = None, image_rotary_emb: Any = None,
                 contextgen_masks: "ContextGenMasks | None" = None) -> Any:
        import torch
        import torch.nn.functional as F
        from diffusers.models.embeddings import apply_rotary_emb

        batch = (encoder_hidden_states if encoder_hidden_states is not None else hidden_states).shape[0]
        heads = attn.heads

        def split(x: "torch.Tensor") -> "torch.Tensor":  # (B, S, H*D) -> (B, H, S, D)
            return x.view(batch, -1, heads, x.shape[-1] // heads).transpose(1, 2)

        q, k, v = split(attn.to_q(hidden_states)), split(attn.to_k(hidden_states)), split(attn.to_v(hidden_states))
        q, k = attn.norm_q(q), attn.norm_k(k)
        n_text = 0
        if encoder_hidden_states is not None:
            n_text = encoder_hidden_states.shape[1]
            eq = attn.norm_added_q(split(attn.add_q_proj(encoder_hidden_states)))
            ek = attn.norm_added_k(split(attn.add_k_proj(encoder_hidden_states)))
            ev = split(attn.add_v_proj(encoder_hidden_states))
            q, k, v = torch.cat([eq, q], dim=2), torch.cat([ek, k], dim=2), torch.cat([ev, v], dim=2)
        if image_rotary_emb is not None:
            q = cast("torch.Tensor", apply_rotary_emb(q, image_rotary_emb, sequence_dim=2))
            k = cast("torch.Tensor", apply_rotary_emb(k, image_rotary_emb, sequence_dim=2))
        mask = attention_mask
        if contextgen_masks is not None:
            mask = getattr(contextgen_masks, self.which)
        if mask is not None and mask.device != q.device:
            mask = mask.to(q.device)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0, is_causal=False)
        out = out.transpose(1, 2).reshape(batch, -1, heads * q.shape[-1]).to(q.dtype)
        if encoder_hidden_states is None:
            return out
        text, image = out[:, :n_text], out[:, n_text:]
        image = attn.to_out[1](attn.to_out[0](image))
        return image, attn.to_add_out(text)


def block_masks(transformer: Any) -> dict[str, str]:
    """Processor name -> mask kind, as ContextGen's forward assigns them: layout-only in every double block;
    in the single blocks reference-aware below N_single // 2, layout-only from there on."""
    out = {f"transformer_blocks.{i}.attn.processor": LAYOUT_ONLY for i in range(len(transformer.transformer_blocks))}
    n_single = len(transformer.single_transformer_blocks)
    for i in range(n_single):
        out[f"single_transformer_blocks.{i}.attn.processor"] = REFERENCE_AWARE if i < n_single // 2 else LAYOUT_ONLY
    return out


@contextmanager
def contextgen_processors(transformer: Any) -> Iterator[None]:
    """Install ContextGen's processors for the duration of a call and put the previous ones back after, so the
    same loaded transformer serves other methods before and after."""
    before = dict(transformer.attn_processors)
    kinds = block_masks(transformer)
    shared = {kind: ContextGenAttnProcessor(kind) for kind in (LAYOUT_ONLY, REFERENCE_AWARE)}
    transformer.set_attn_processor({name: shared[kinds[name]] for name in before})
    try:
        yield
    finally:
        transformer.set_attn_processor(before)
