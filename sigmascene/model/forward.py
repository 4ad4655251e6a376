"""One transformer pass over [P, X, I_S, I_C] where the conditions carry their own timestep.

diffusers' `FluxTransformer2DModel.forward` modulates every image token with one timestep embedding. SIGMA's
conditions are clean latents, so — as OminiControl does — they get the embedding of timestep 0 while X gets t.
This module walks the model's own blocks (same weights, same LoRA layers, same hooks) with a per-segment
modulation: inside each block, the tokens of a segment are shifted/scaled/gated by that segment's embedding.
With the condition timestep set equal to t and no mask, the result equals diffusers' forward on the
concatenated sequence, which the tests check; that is what keeps this walk honest.

Gradient checkpointing follows diffusers' convention: `transformer.enable_gradient_checkpointing()` sets the
model's `gradient_checkpointing` flag and `_gradient_checkpointing_func`, and while gradients are enabled each
block runs through that function, recomputed in backward. `sigma_forward(..., gradient_checkpointing=...)`
overrides the flag for one call.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import SigmaError
from .attention import (ConditionCache, check_attention_mask, condition_mask_tensor, joint_attention,
                        merge_attention_masks)

if TYPE_CHECKING:
    import torch


def timestep_embedding(transformer: Any, timestep: "torch.Tensor", guidance: "torch.Tensor | None",
                       pooled: "torch.Tensor", dtype: Any) -> "torch.Tensor":
    """Flux's combined (timestep, guidance, pooled text) embedding; timesteps in [0, 1] like the pipeline's."""
    t = timestep.to(dtype) * 1000
    if transformer.config.guidance_embeds:
        if guidance is None:
            raise ValueError("this transformer is guidance-distilled: pass a guidance value")
        return transformer.time_text_embed(t, guidance.to(dtype) * 1000, pooled)
    return transformer.time_text_embed(t, pooled)


def _split(x: "torch.Tensor", lengths: Sequence[int]) -> list["torch.Tensor"]:
    return list(x.split(list(lengths), dim=1)) if len(lengths) > 1 else [x]


def _cat(parts: list["torch.Tensor"]) -> "torch.Tensor":
    import torch

    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def _mods(linear_norm: Any, tembs: Sequence["torch.Tensor"], n: int) -> list[tuple["torch.Tensor", ...]]:
    """adaLN parameters (shift, scale, gate, ...) for each segment's embedding."""
    return [linear_norm.linear(linear_norm.silu(t)).chunk(n, dim=1) for t in tembs]


def _modulate(norm: Any, x: "torch.Tensor", lengths: Sequence[int], shifts, scales) -> "torch.Tensor":
    return _cat([norm(p) * (1 + sc[:, None]) + sh[:, None] for p, sh, sc in zip(_split(x, lengths), shifts, scales)])


def _gate(x: "torch.Tensor", lengths: Sequence[int], gates) -> "torch.Tensor":
    return _cat([g[:, None] * p for p, g in zip(_split(x, lengths), gates)])


def _clip16(x: "torch.Tensor") -> "torch.Tensor":
    import torch

    return x.clip(-65504, 65504) if x.dtype == torch.float16 else x


def _dual_block(block: Any, img: "torch.Tensor", txt: "torch.Tensor | None", temb_txt: "torch.Tensor | None",
                tembs: Sequence["torch.Tensor"], lengths: Sequence[int], rotary, *, n_main: int,
                condition_mask: bool, cache: ConditionCache | None, layer: int,
                attention_mask: "torch.Tensor | None" = None):
    m = _mods(block.norm1, tembs, 6)  # shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp
    norm_img = _modulate(block.norm1.norm, img, lengths, [p[0] for p in m], [p[1] for p in m])
    norm_txt, c = None, []
    if txt is not None:
        norm_txt, *c = block.norm1_context(txt, emb=temb_txt)  # c: gate_msa, shift_mlp, scale_mlp, gate_mlp
    attn_img, attn_txt = joint_attention(block.attn, norm_img, norm_txt, rotary, n_main=n_main,
                                         condition_mask=condition_mask, cache=cache, layer=layer,
                                         attention_mask=attention_mask)
    img = img + _gate(attn_img, lengths, [p[2] for p in m])
    ff_in = _modulate(block.norm2, img, lengths, [p[3] for p in m], [p[4] for p in m])
    img = _clip16(img + _gate(block.ff(ff_in), lengths, [p[5] for p in m]))
    if txt is not None:
        c_gate_msa, c_shift_mlp, c_scale_mlp, c_gate_mlp = c
        txt = txt + c_gate_msa.unsqueeze(1) * attn_txt
        ff_txt = block.norm2_context(txt) * (1 + c_scale_mlp[:, None]) + c_shift_mlp[:, None]
        txt = _clip16(txt + c_gate_mlp.unsqueeze(1) * block.ff_context(ff_txt))
    return img, txt


def _single_block(block: Any, h: "torch.Tensor", tembs: Sequence["torch.Tensor"], lengths: Sequence[int], rotary, *,
                  n_main: int, condition_mask: bool, cache: ConditionCache | None, layer: int,
                  attention_mask: "torch.Tensor | None" = None) -> "torch.Tensor":
    import torch

    m = _mods(block.norm, tembs, 3)  # shift, scale, gate
    norm_h = _modulate(block.norm.norm, h, lengths, [p[0] for p in m], [p[1] for p in m])
    mlp = block.act_mlp(block.proj_mlp(norm_h))
    attn, _ = joint_attention(block.attn, norm_h, None, rotary, n_main=n_main, condition_mask=condition_mask,
                              cache=cache, layer=layer, attention_mask=attention_mask)
    out = block.proj_out(torch.cat([attn, mlp], dim=2))
    return _clip16(h + _gate(out, lengths, [p[2] for p in m]))


def _checkpointed(transformer: Any, enabled: bool | None) -> Callable[..., Any] | None:
    """The function that runs a block under activation checkpointing, or None to run blocks plainly.

    diffusers' pattern (`if torch.is_grad_enabled() and self.gradient_checkpointing`): off under no_grad, so
    inference never pays for it; the model's own `_gradient_checkpointing_func` when it has one.
    """
    import torch

    if enabled is None:
        enabled = bool(getattr(transformer, "gradient_checkpointing", False))
    if not (enabled and torch.is_grad_enabled()):
        return None
    func = getattr(transformer, "_gradient_checkpointing_func", None)
    if func is None:
        from torch.utils.checkpoint import checkpoint

        def func(block_fn, *args):
            return checkpoint(block_fn.__call__, *args, use_reentrant=False)
    return func


def _rotary(transformer: Any, *ids: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
    import torch

    return transformer.pos_embed(torch.cat(ids, dim=0))


def sigma_forward(transformer: Any, *, hidden_states: "torch.Tensor", cond_tokens: "torch.Tensor | None",
                  encoder_hidden_states: "torch.Tensor", pooled_projections: "torch.Tensor",
                  timestep: "torch.Tensor", guidance: "torch.Tensor | None", txt_ids: "torch.Tensor",
                  x_ids: "torch.Tensor", cond_ids: "torch.Tensor | None", condition_mask: bool = False,
                  cache: ConditionCache | None = None,
                  cond_timestep: "torch.Tensor | None" = None,
                  gradient_checkpointing: bool | None = None,
                  attention_mask: "torch.Tensor | None" = None) -> "torch.Tensor":
    """Velocity prediction for X only, shape of `hidden_states` (B, n_x, C).

    `timestep` is X's (in [0, 1], per batch item); conditions use `cond_timestep`, zeros by default. With a
    filled `cache` (see `build_condition_cache`) the conditions are not passed again (`cond_tokens=None`).
    `gradient_checkpointing`: recompute each block in backward; None follows the transformer's own flag
    (`enable_gradient_checkpointing()`), and it never applies while gradients are off.
    `attention_mask`: an SDPA mask over the whole sequence [P, X, conditions] (bool True = may attend, or
    additive float; broadcastable to (B, heads, S, S)), what diffusers' `joint_attention_kwargs={"attention_mask":
    M}` passes to every attention layer; ANDed with the condition mask when that is on. Not with a cache.
    """
    import torch

    dtype = hidden_states.dtype
    if cache is not None and cache.filling:
        raise ValueError("the condition cache is still being filled; call build_condition_cache first")
    if cache is not None and attention_mask is not None:
        raise SigmaError("an attention_mask cannot be used with a filled condition cache: the cached condition "
                         "keys/values were computed under the condition mask alone",
                         hint="render without cache_conditions to apply an attention_mask")
    x = transformer.x_embedder(hidden_states)
    txt = transformer.context_embedder(encoder_hidden_states)
    temb = timestep_embedding(transformer, timestep, guidance, pooled_projections, dtype)
    n_txt, n_x = txt.shape[1], x.shape[1]

    if cache is not None or cond_tokens is None:
        img, lengths, tembs = x, [n_x], [temb]
        rot = _rotary(transformer, txt_ids, x_ids)
    else:
        if cond_ids is None:  # was a TypeError from inside torch.cat
            raise ValueError("cond_tokens need their RoPE ids: pass cond_ids (see model/layout.py sequence_ids)")
        c = transformer.x_embedder(cond_tokens.to(dtype)).expand(x.shape[0], -1, -1)
        t0 = torch.zeros_like(timestep) if cond_timestep is None else cond_timestep
        temb_c = timestep_embedding(transformer, t0, guidance, pooled_projections, dtype)
        img, lengths, tembs = torch.cat([x, c], dim=1), [n_x, c.shape[1]], [temb, temb_c]
        rot = _rotary(transformer, txt_ids, x_ids, cond_ids)
    n_main = n_txt + n_x
    if attention_mask is not None:
        n_cond = img.shape[1] - n_x
        parts = {"P": n_txt, "X": n_x, **({"conditions": n_cond} if n_cond else {})}
        check_attention_mask(attention_mask, parts, batch=x.shape[0], heads=transformer.config.num_attention_heads)
        attention_mask = attention_mask.to(x.device)
        if condition_mask and n_cond:
            cond_mask = condition_mask_tensor(n_main, n_main + n_cond, device=x.device)
            attention_mask = merge_attention_masks(attention_mask, cond_mask)
    ckpt = _checkpointed(transformer, gradient_checkpointing)

    layer = 0
    for block in transformer.transformer_blocks:
        run = partial(_dual_block, block, n_main=n_main, condition_mask=condition_mask, cache=cache, layer=layer,
                      attention_mask=attention_mask)
        img, txt = run(img, txt, temb, tembs, lengths, rot) if ckpt is None else \
            ckpt(run, img, txt, temb, tembs, lengths, rot)
        layer += 1
    h = torch.cat([txt, img], dim=1)
    single_lengths = [n_txt + lengths[0], *lengths[1:]]
    for block in transformer.single_transformer_blocks:
        run = partial(_single_block, block, n_main=n_main, condition_mask=condition_mask, cache=cache, layer=layer,
                      attention_mask=attention_mask)
        h = run(h, tembs, single_lengths, rot) if ckpt is None else ckpt(run, h, tembs, single_lengths, rot)
        layer += 1
    x = h[:, n_txt:n_main]
    return transformer.proj_out(transformer.norm_out(x, temb))


def build_condition_cache(transformer: Any, *, cond_tokens: "torch.Tensor", cond_ids: "torch.Tensor",
                          pooled_projections: "torch.Tensor", guidance: "torch.Tensor | None",
                          cond_timestep: "torch.Tensor | None" = None) -> ConditionCache:
    """Run the condition tokens alone through every block (timestep 0, attending only to themselves) and keep
    each attention layer's keys/values. Valid only for a model trained with the condition mask.

    The cache has the batch size of `pooled_projections`: the condition embedding includes the pooled prompt.
    """
    import torch

    cache = ConditionCache()
    dtype = transformer.dtype
    b = pooled_projections.shape[0]
    c = transformer.x_embedder(cond_tokens.to(dtype)).expand(b, -1, -1)
    t0 = torch.zeros(b, device=c.device, dtype=dtype) if cond_timestep is None else cond_timestep
    temb_c = timestep_embedding(transformer, t0, guidance, pooled_projections, dtype)
    rot = _rotary(transformer, cond_ids)
    lengths = [c.shape[1]]
    for block in transformer.transformer_blocks:
        c, _ = _dual_block(block, c, None, None, [temb_c], lengths, rot, n_main=0, condition_mask=True,
                           cache=cache, layer=len(cache))
    # The last single block's output is never read; running it whole keeps one code path for its K/V.
    for block in transformer.single_transformer_blocks:
        c = _single_block(block, c, [temb_c], lengths, rot, n_main=0, condition_mask=True, cache=cache,
                          layer=len(cache))
    return cache.finish()
