"""Joint attention over [P, X, I_S, I_C] with the condition mask and the condition K/V cache.

Why a mask makes a cache possible (OminiControl2's observation): if condition tokens (I_S, I_C) attend only to
condition tokens, and carry timestep 0, nothing they compute depends on the denoising step or on X. Their keys and
values at every layer are then the same at every step, so they are computed once per image and reused; each step
only pushes the text and X tokens through the network. Text and X still attend to everything, so they see the
conditions exactly as in the uncached masked model — the cached and uncached outputs are equal up to float error.

Instead of one SDPA call with a boolean mask (which disables flash kernels), the masked attention is done as
two unmasked calls: [P, X] queries over all keys, condition queries over condition keys. `condition_attention_mask`
builds the equivalent boolean mask for code (the trainer, tests) that wants the single-call form.

A user's `attention_mask` (diffusers' `joint_attention_kwargs={"attention_mask": M}`, SDPA convention) costs the
fast path: `merge_attention_masks` folds the condition mask into it once per call and every layer then makes one
masked SDPA call. Without a user mask nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import SigmaError

if TYPE_CHECKING:
    import torch

    from .layout import TokenLayout


def condition_attention_mask(layout: "TokenLayout", *, device: Any = None) -> "torch.Tensor":
    """(S, S) bool mask over [P, X, I_S, I_C], True = query row may attend key column.

    P and X rows see every token; I_S and I_C rows see only I_S and I_C. Broadcasts over batch and heads in
    `torch.nn.functional.scaled_dot_product_attention(attn_mask=...)`.
    """
    return condition_mask_tensor(layout.n_txt + layout.n_x, layout.total, device=device)


def condition_mask_tensor(n_main: int, total: int, *, device: Any = None) -> "torch.Tensor":
    """`condition_attention_mask` from token counts alone, for code (sigma_forward) that has no layout."""
    import torch

    mask = torch.ones(total, total, dtype=torch.bool, device=device)
    mask[n_main:, :n_main] = False
    return mask


def merge_attention_masks(user: "torch.Tensor", condition: "torch.Tensor | None") -> "torch.Tensor":
    """One SDPA mask from a user mask and the (S, S) condition mask (None when the condition mask is off).

    Boolean masks (True = may attend) are ANDed; for an additive float mask the condition mask adds -inf where it
    forbids. The result broadcasts over (B, heads, S, S) like its inputs.
    """
    import torch

    if condition is None:
        return user
    if user.dtype == torch.bool:
        return user & condition
    return torch.where(condition, user, torch.tensor(float("-inf"), dtype=user.dtype, device=user.device))


def check_attention_mask(mask: Any, parts: dict[str, int], *, batch: int, heads: int) -> "torch.Tensor":
    """Refuse a mask that SDPA would reject deep inside the first block, naming the sequence it must cover.

    `parts` are the token groups in sequence order (P, X, I_S, I_C), their sum is S; the mask must be a bool
    or float tensor that broadcasts to (batch, heads, S, S).
    """
    import torch

    total = sum(parts.values())
    made_of = " + ".join(f"{name} {n}" for name, n in parts.items())
    expected = f"(S, S), broadcastable to (B={batch}, heads={heads}, S, S), with S = {total} = {made_of} tokens"
    hint = ("the sequence is [P, X, I_S, I_C]: text, noise latent, identity dictionary, control map; "
            "see sigmascene.model.layout.make_layout for the token counts")
    if not isinstance(mask, torch.Tensor):
        raise SigmaError(f"joint_attention_kwargs['attention_mask'] must be a tensor {expected}, "
                         f"got {type(mask).__name__}", hint=hint)
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise SigmaError(f"joint_attention_kwargs['attention_mask'] must be bool (True = may attend) or an "
                         f"additive float mask, got dtype {mask.dtype}", hint=hint)
    full = (batch, heads, total, total)
    try:
        fits = mask.dim() <= 4 and torch.broadcast_shapes(mask.shape, full) == full
    except RuntimeError:
        fits = False
    if not fits:
        raise SigmaError(f"joint_attention_kwargs['attention_mask'] has shape {tuple(mask.shape)}; expected "
                         f"{expected}", hint=hint)
    return mask


@dataclass
class ConditionCache:
    """Per-attention-layer keys and values of the condition tokens, after RoPE, in (B, heads, n_cond, head_dim).

    Filled by one pass of the condition tokens alone (`filling=True`); afterwards every attention layer prepends
    the step's own [P, X] keys/values. The buffers hold [main | cond] so each step writes only its main part
    in place instead of concatenating ~n_cond tokens per layer per step.
    """

    filling: bool = True
    n_cond: int = 0
    _k: list["torch.Tensor"] = field(default_factory=list)
    _v: list["torch.Tensor"] = field(default_factory=list)
    _n_main: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self._k)

    def store(self, k: "torch.Tensor", v: "torch.Tensor") -> None:
        self._k.append(k)
        self._v.append(v)
        self._n_main.append(0)
        self.n_cond = k.shape[2]

    def finish(self) -> "ConditionCache":
        self.filling = False
        return self

    def keys_values(self, layer: int, k_main: "torch.Tensor",
                    v_main: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
        """Keys/values [main, cond] for one layer, with this step's main part written in place."""
        import torch

        if layer >= len(self._k):
            raise RuntimeError(f"condition cache has {len(self._k)} layers, the transformer asked for layer {layer}")
        n = k_main.shape[2]
        k, v = self._k[layer], self._v[layer]
        b = k_main.shape[0]
        if self._n_main[layer] != n or k.shape[0] != b or k.shape[2] != n + self.n_cond:
            cond_k, cond_v = k[:, :, k.shape[2] - self.n_cond:], v[:, :, v.shape[2] - self.n_cond:]
            k = torch.cat([k_main.new_empty((b, *k_main.shape[1:])), cond_k.expand(b, -1, -1, -1)], dim=2)
            v = torch.cat([v_main.new_empty((b, *v_main.shape[1:])), cond_v.expand(b, -1, -1, -1)], dim=2)
            self._k[layer], self._v[layer], self._n_main[layer] = k, v, n
        k[:, :, :n] = k_main
        v[:, :, :n] = v_main
        return k, v

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self._k, *self._v))


def _sdpa(q: "torch.Tensor", k: "torch.Tensor", v: "torch.Tensor",
          mask: "torch.Tensor | None" = None) -> "torch.Tensor":
    import torch.nn.functional as F

    if mask is not None and mask.is_floating_point() and mask.dtype != q.dtype:
        mask = mask.to(q.dtype)  # SDPA wants an additive mask in the query's dtype
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def attend(q: "torch.Tensor", k: "torch.Tensor", v: "torch.Tensor", *, n_main: int, condition_mask: bool,
           cache: ConditionCache | None = None, layer: int = 0,
           attention_mask: "torch.Tensor | None" = None) -> "torch.Tensor":
    """Attention for one layer; q/k/v in (B, heads, S, head_dim) with the sequence [main..., cond...].

    * no cache, no mask: every token attends every token (plain joint attention, as Flux Kontext does);
    * no cache, mask: main rows attend all, condition rows attend conditions only;
    * cache filling (the sequence is conditions only): conditions attend conditions, K/V are stored;
    * cache filled (the sequence is main only): main rows attend [main, cached conditions];
    * `attention_mask` (a user's SDPA mask over the whole sequence, the condition mask already merged in by
      `merge_attention_masks`): one masked call; `condition_mask` is then not applied again.
    """
    import torch

    if attention_mask is not None:
        if cache is not None:
            raise ValueError("an attention_mask cannot be combined with the condition cache")
        return _sdpa(q, k, v, attention_mask)
    if cache is not None:
        if cache.filling:
            cache.store(k, v)
            return _sdpa(q, k, v)
        k_all, v_all = cache.keys_values(layer, k, v)
        return _sdpa(q, k_all, v_all)
    if not condition_mask or n_main >= q.shape[2]:
        return _sdpa(q, k, v)
    main = _sdpa(q[:, :, :n_main], k, v)
    cond = _sdpa(q[:, :, n_main:], k[:, :, n_main:], v[:, :, n_main:])
    return torch.cat([main, cond], dim=2)


def rope(x: "torch.Tensor", cos: "torch.Tensor", sin: "torch.Tensor") -> "torch.Tensor":
    """Flux's rotary embedding on (B, heads, S, D): pairs (x0, x1) rotate by the angle of their position."""
    import torch

    x_real, x_imag = x.reshape(*x.shape[:-1], -1, 2).unbind(-1)
    rotated = torch.stack([-x_imag, x_real], dim=-1).flatten(3)
    return (x.float() * cos + rotated.float() * sin).to(x.dtype)


def joint_attention(attn: Any, hidden_states: "torch.Tensor", encoder_hidden_states: "torch.Tensor | None",
                    rotary: tuple["torch.Tensor", "torch.Tensor"], *, n_main: int, condition_mask: bool,
                    cache: ConditionCache | None = None, layer: int = 0,
                    attention_mask: "torch.Tensor | None" = None) -> tuple["torch.Tensor", "torch.Tensor | None"]:
    """The processor body for one diffusers `FluxAttention`: projections, QK-norm, RoPE, `attend`, outputs.

    Sequence order is [encoder (text), hidden (image tokens)], as in Flux; `n_main` counts the leading tokens
    that are not conditions (text + X). Calling the module's own Linear layers keeps peft LoRA and diffusers'
    offload/layerwise-casting hooks working. Returns (image part, text part); the text part is None when no
    `encoder_hidden_states` came in (single blocks, whose text is inside `hidden_states`, or the conditions-only
    pass that fills the cache).
    """
    import torch

    heads_dim = attn.head_dim
    def split(t):  # (B,S,HD) -> (B,H,S,D)
        return t.unflatten(-1, (-1, heads_dim)).transpose(1, 2)
    # QK-norms are RMSNorms over head_dim, the last axis, so they apply in (B, H, S, D) as well.
    q = attn.norm_q(split(attn.to_q(hidden_states)))
    k = attn.norm_k(split(attn.to_k(hidden_states)))
    v = split(attn.to_v(hidden_states))
    n_enc = 0
    if encoder_hidden_states is not None:
        n_enc = encoder_hidden_states.shape[1]
        eq = attn.norm_added_q(split(attn.add_q_proj(encoder_hidden_states)))
        ek = attn.norm_added_k(split(attn.add_k_proj(encoder_hidden_states)))
        ev = split(attn.add_v_proj(encoder_hidden_states))
        q, k, v = torch.cat([eq, q], 2), torch.cat([ek, k], 2), torch.cat([ev, v], 2)
    cos, sin = rotary
    cos, sin = cos.to(q.device)[None, None], sin.to(q.device)[None, None]
    q, k = rope(q, cos, sin), rope(k, cos, sin)

    out = attend(q, k, v, n_main=n_main, condition_mask=condition_mask, cache=cache, layer=layer,
                 attention_mask=attention_mask)
    out = out.transpose(1, 2).flatten(2, 3).to(q.dtype)
    txt, img = out[:, :n_enc], out[:, n_enc:]
    if not attn.pre_only:  # dual blocks project their output; single blocks fuse it with the MLP instead
        img = attn.to_out[1](attn.to_out[0](img.contiguous()))
    if encoder_hidden_states is None:
        return img, None
    return img, attn.to_add_out(txt.contiguous())
