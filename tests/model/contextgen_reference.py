"""An independent, deliberately naive re-derivation of ContextGen's inference from the written spec, for tests.

It shares no code with sigmascene.model.contextgen: token ids, masks and packing are built with Python loops,
attention is an explicit softmax with -inf where the mask forbids, the blocks' AdaLN / residual / gate algebra is
written out, and RoPE is computed from its formula. Only the model's own layers (Linear, RMSNorm, the timestep
embedder, the feed-forward MLP — with whatever LoRA wraps them), the VAE, the text encoders and the stock scheduler
are called, because they *are* the model.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

T = 512
TEMPLATE = ("Modify the image to depict '{}'. While preserving the original layout, key object features and human "
            "identities (including facial details), adjust element poses for better composition and naturally fill "
            "in the background. Ensure the result appears natural and visually harmonious.")


def caption_prompt(caption):
    for p in ("a photo of ", "an image of ", "a picture of "):
        if caption.lower().startswith(p):
            return TEMPLATE.format(caption[len(p):].strip())
    return TEMPLATE.format(caption)


def base_for(h, w):
    s = min(h, w)
    return 256 if s <= 384 else 384 if s <= 512 else 512 if s <= 768 else 768 if s <= 1024 else 1024


def resized(w, h, base):
    k = math.sqrt(base * base / (w * h))
    return max(16, (int(w * k) + 15) // 16 * 16), max(16, (int(h * k) + 15) // 16 * 16)


def to_pixels(rgb):  # PIL RGB -> (1,3,h,w) in [-1,1]
    a = np.asarray(rgb, dtype=np.float32) / 255.0
    return torch.from_numpy(a * 2.0 - 1.0).permute(2, 0, 1)[None]


def to_binary(mask_l):  # PIL L -> (1,1,h,w) in {0,1}
    a = np.asarray(mask_l, dtype=np.float32) / 255.0
    return torch.from_numpy((a >= 0.5).astype(np.float32))[None, None]


def pack(z):  # (1,C,h,w) -> (1, h/2*w/2, 4C), channel c*4 + dy*2 + dx
    _, c, h, w = z.shape
    out = torch.zeros(1, (h // 2) * (w // 2), 4 * c, dtype=z.dtype)
    for y in range(h // 2):
        for x in range(w // 2):
            for ch in range(c):
                for dy in range(2):
                    for dx in range(2):
                        out[0, y * (w // 2) + x, ch * 4 + dy * 2 + dx] = z[0, ch, 2 * y + dy, 2 * x + dx]
    return out


def vae_tokens(vae, pixels):
    z = vae.encode(pixels.to(vae.dtype)).latent_dist.sample()  # global RNG, as ContextGen
    return pack((z - vae.config.shift_factor) * vae.config.scaling_factor)


def rope_tables(ids, axes, theta=10000.0):
    cos_parts, sin_parts = [], []
    pos = ids.float().double()
    for a, d in enumerate(axes):
        freqs = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
        ang = pos[:, a:a + 1] * freqs[None]
        cos_parts.append(ang.cos().repeat_interleave(2, dim=1).float())
        sin_parts.append(ang.sin().repeat_interleave(2, dim=1).float())
    return torch.cat(cos_parts, 1), torch.cat(sin_parts, 1)


def rotate(x, cos, sin):  # x (B,H,S,D)
    out = torch.empty_like(x, dtype=torch.float32)
    for i in range(0, x.shape[-1], 2):
        a, b = x[..., i].float(), x[..., i + 1].float()
        out[..., i] = a * cos[:, i] - b * sin[:, i]
        out[..., i + 1] = b * cos[:, i + 1] + a * sin[:, i + 1]
    return out.to(x.dtype)


def attention(attn, img, txt, cos, sin, mask):
    heads = attn.heads

    def split(t):
        return t.reshape(t.shape[0], t.shape[1], heads, -1).permute(0, 2, 1, 3)

    q, k, v = attn.norm_q(split(attn.to_q(img))), attn.norm_k(split(attn.to_k(img))), split(attn.to_v(img))
    if txt is not None:
        q = torch.cat([attn.norm_added_q(split(attn.add_q_proj(txt))), q], 2)
        k = torch.cat([attn.norm_added_k(split(attn.add_k_proj(txt))), k], 2)
        v = torch.cat([split(attn.add_v_proj(txt)), v], 2)
    q, k = rotate(q, cos, sin), rotate(k, cos, sin)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask, float("-inf"))
    out = torch.softmax(scores, dim=-1) @ v
    out = out.permute(0, 2, 1, 3).reshape(out.shape[0], out.shape[2], -1)
    if txt is None:
        return out, None
    n = txt.shape[1]
    return attn.to_out[0](out[:, n:]), attn.to_add_out(out[:, :n])


def layer_norm(x):
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)


def forward(tr, x, txt_emb, pooled, t, guidance, cos, sin, ref_mask, lay_mask):
    h = tr.x_embedder(x)
    temb = tr.time_text_embed(t * 1000, guidance * 1000, pooled)
    c = tr.context_embedder(txt_emb)
    silu = F.silu(temb)
    for blk in tr.transformer_blocks:
        m = blk.norm1.linear(silu).chunk(6, dim=1)
        mc = blk.norm1_context.linear(silu).chunk(6, dim=1)
        nh = layer_norm(h) * (1 + m[1][:, None]) + m[0][:, None]
        nc = layer_norm(c) * (1 + mc[1][:, None]) + mc[0][:, None]
        a, ac = attention(blk.attn, nh, nc, cos, sin, lay_mask)
        h = h + m[2][:, None] * a
        h = h + m[5][:, None] * blk.ff(layer_norm(h) * (1 + m[4][:, None]) + m[3][:, None])
        c = c + mc[2][:, None] * ac
        c = c + mc[5][:, None] * blk.ff_context(layer_norm(c) * (1 + mc[4][:, None]) + mc[3][:, None])
    s = torch.cat([c, h], 1)
    n_single = len(tr.single_transformer_blocks)
    for i, blk in enumerate(tr.single_transformer_blocks):
        shift, scale, gate = blk.norm.linear(silu).chunk(3, dim=1)
        ns = layer_norm(s) * (1 + scale[:, None]) + shift[:, None]
        mlp = F.gelu(blk.proj_mlp(ns), approximate="tanh")
        a, _ = attention(blk.attn, ns, None, cos, sin, ref_mask if i < n_single // 2 else lay_mask)
        s = s + gate[:, None] * blk.proj_out(torch.cat([a, mlp], 2))
    h = s[:, c.shape[1]:]
    scale, shift = tr.norm_out.linear(F.silu(temb)).chunk(2, dim=1)
    return tr.proj_out(layer_norm(h) * (1 + scale[:, None]) + shift[:, None])


def reference_latents(pipe, caption, refs, layout, height, width, steps, guidance, seed):
    """refs: [(PIL RGBA, [x1,y1,x2,y2])]; layout: PIL RGBA. Call right after torch.manual_seed(s)."""
    assert height % 16 == 0 and width % 16 == 0
    Ht, Wt = height // 16, width // 16
    M = Ht * Wt
    base = base_for(height, width)
    lat_parts, sizes, tboxes, tmasks = [], [], [], []
    for img, box in refs:
        rgb, alpha = img.convert("RGB"), img.split()[-1]
        size = resized(rgb.width, rgb.height, base)
        rgb, alpha = rgb.resize(size, Image.BICUBIC), alpha.resize(size, Image.BICUBIC)
        w, h = size[0] // 16, size[1] // 16
        tm = np.asarray(alpha.resize((w, h), Image.BICUBIC)) > 0
        tmasks.append([bool(tm[y, x]) for y in range(h) for x in range(w)])
        x1, y1, x2, y2 = box
        tboxes.append((x1 // 16, y1 // 16, -(-x2 // 16), -(-y2 // 16)))
        sizes.append((w, h))
        lat_parts.append(vae_tokens(pipe.vae, to_pixels(rgb) * to_binary(alpha)))
    lrgb = layout.convert("RGB").resize((width, height), Image.LANCZOS)
    lalpha = layout.split()[-1].resize((width, height), Image.NEAREST)
    cond = torch.cat([vae_tokens(pipe.vae, to_pixels(lrgb) * to_binary(lalpha))] + lat_parts, 1)

    # ids: text zeros; main (0,y,x); layout (1,y,x); ref r (1, y+oy, x+ox), diagonal; bf16-rounded
    rows = [[0.0, 0.0, 0.0] for _ in range(T)]
    rows += [[0.0, y, x] for y in range(Ht) for x in range(Wt)]
    rows += [[1.0, y, x] for y in range(Ht) for x in range(Wt)]
    ox, oy = Wt, Ht
    for w, h in sizes:
        rows += [[1.0, y + oy, x + ox] for y in range(h) for x in range(w)]
        ox, oy = ox + w, oy + h
    ids = torch.tensor(rows, dtype=torch.float32).to(torch.bfloat16)
    tr = pipe.transformer
    cos, sin = rope_tables(ids, tr.config.axes_dims_rope)

    # masks by loops over (query, key)
    K = 2 * M + sum(w * h for w, h in sizes)
    S = T + K
    seg = []  # (start, end, ref index) of each ref in joint order
    off = T + 2 * M
    for r, (w, h) in enumerate(sizes):
        seg.append((off, off + w * h, r))
        off += w * h

    owner = {}
    for s0, s1, r in seg:
        for j in range(s0, s1):
            owner[j] = (r, j - s0)

    def ref_of(j):
        return owner.get(j)

    table = []
    for i in range(S):
        row = []
        ri = ref_of(i)
        for j in range(S):
            if i < T:
                row.append(j < T + 2 * M)
            elif j < T:
                row.append(True)
            elif i < T + 2 * M and j < T + 2 * M:
                row.append(True)
            else:
                rj = ref_of(j)
                if rj is None or not tmasks[rj[0]][rj[1]]:
                    row.append(False)
                elif ri is not None:
                    row.append(ri[0] == rj[0])
                elif i < T + M:
                    y, x = divmod(i - T, Wt)
                    x1, y1, x2, y2 = tboxes[rj[0]]
                    row.append(x1 <= x < x2 and y1 <= y < y2)
                else:
                    row.append(False)
        table.append(row)
    R = torch.tensor(table, dtype=torch.bool)
    L = R.clone()
    L[T:T + 2 * M, T + 2 * M:] = False

    # text
    prompt = caption_prompt(caption)
    ids1 = pipe.tokenizer([prompt], padding="max_length", max_length=pipe.tokenizer.model_max_length,
                          truncation=True, return_tensors="pt").input_ids
    pooled = pipe.text_encoder(ids1, output_hidden_states=False).pooler_output
    ids2 = pipe.tokenizer_2([prompt], padding="max_length", max_length=T, truncation=True,
                            return_tensors="pt").input_ids
    txt = pipe.text_encoder_2(ids2, output_hidden_states=False)[0]

    gen = torch.Generator().manual_seed(seed)
    z = torch.randn((1, tr.config.in_channels // 4, 2 * Ht, 2 * Wt), generator=gen, dtype=txt.dtype)
    x = pack(z)
    sched = pipe.scheduler
    cfg = sched.config
    m = (cfg.max_shift - cfg.base_shift) / (cfg.max_image_seq_len - cfg.base_image_seq_len)
    mu = M * m + sched.config.base_shift - m * sched.config.base_image_seq_len
    sched.set_timesteps(sigmas=np.linspace(1.0, 1 / steps, steps), mu=mu)
    sched.set_begin_index(0)
    g = torch.full([1], guidance, dtype=torch.float32)
    with torch.no_grad():
        for t in sched.timesteps:
            tt = t.expand(1).to(x.dtype) / 1000
            v = forward(tr, torch.cat([x, cond.to(x.dtype)], 1), txt, pooled, tt, g, cos, sin, R, L)[:, :M]
            x = sched.step(v, t, x, return_dict=False)[0]
    return x
