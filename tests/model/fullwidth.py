"""A Flux transformer at the real model's width (24 heads of 128 = 3072, MLP 12288) with one block of each kind.

diffusers' converters for files in BFL's layout (BFL control / fal-Kontext / kohya LoRAs, BFL and ComfyUI
single-file checkpoints, city96-style GGUFs) hard-code Flux's widths. The tiny model has none of them, so tests of
those paths use this base: ~530 M parameters, ~2 GB in float32, built in a few seconds on a CPU.
"""

from __future__ import annotations

import torch
from diffusers import FluxTransformer2DModel

from sigmascene.testing.tiny_pipeline import TINY


def wide_transformer(seed: int = 0) -> FluxTransformer2DModel:
    torch.manual_seed(seed)
    return FluxTransformer2DModel(
        patch_size=1, in_channels=4 * TINY["latent_channels"], num_layers=1, num_single_layers=1,
        attention_head_dim=128, num_attention_heads=24, joint_attention_dim=TINY["t5_d_model"],
        pooled_projection_dim=TINY["clip_hidden"], guidance_embeds=True, axes_dims_rope=(16, 56, 56)).eval()


def transformer_out(tr) -> torch.Tensor:
    """The transformer's own forward on fixed random inputs (sizes from its config)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 12, tr.config.in_channels, generator=g)
    txt = torch.randn(1, 8, tr.config.joint_attention_dim, generator=g)
    with torch.no_grad():
        return tr(hidden_states=x, encoder_hidden_states=txt,
                  pooled_projections=torch.randn(1, tr.config.pooled_projection_dim, generator=g),
                  timestep=torch.tensor([0.5]), guidance=torch.tensor([2.5]), img_ids=torch.zeros(12, 3),
                  txt_ids=torch.zeros(8, 3), return_dict=False)[0]


# BFL name -> diffusers name of the layers that map one-to-one (per block where the name holds `{i}`)
EMBEDDERS = {"time_in.in_layer": "time_text_embed.timestep_embedder.linear_1",
              "time_in.out_layer": "time_text_embed.timestep_embedder.linear_2",
              "vector_in.in_layer": "time_text_embed.text_embedder.linear_1",
              "vector_in.out_layer": "time_text_embed.text_embedder.linear_2",
              "guidance_in.in_layer": "time_text_embed.guidance_embedder.linear_1",
              "guidance_in.out_layer": "time_text_embed.guidance_embedder.linear_2",
              "txt_in": "context_embedder"}
DOUBLE = {"img_mod.lin": "norm1.linear", "txt_mod.lin": "norm1_context.linear", "img_attn.proj": "attn.to_out.0",
           "txt_attn.proj": "attn.to_add_out", "img_mlp.0": "ff.net.0.proj", "img_mlp.2": "ff.net.2",
           "txt_mlp.0": "ff_context.net.0.proj", "txt_mlp.2": "ff_context.net.2"}
_DOUBLE_NORMS = {"img_attn.norm.query_norm.scale": "attn.norm_q.weight",
                 "img_attn.norm.key_norm.scale": "attn.norm_k.weight",
                 "txt_attn.norm.query_norm.scale": "attn.norm_added_q.weight",
                 "txt_attn.norm.key_norm.scale": "attn.norm_added_k.weight"}
_SINGLE = {"modulation.lin": "norm.linear", "linear2": "proj_out"}
_SINGLE_NORMS = {"norm.query_norm.scale": "attn.norm_q.weight", "norm.key_norm.scale": "attn.norm_k.weight"}


def _swap_halves(t: torch.Tensor) -> torch.Tensor:
    a, b = t.chunk(2, dim=0)
    return torch.cat([b, a], dim=0)


def bfl_checkpoint(tr, prefix: str = "") -> dict[str, torch.Tensor]:
    """The transformer's weights in BFL's own layout (fused qkv and linear1, adaLN halves in BFL's order), as
    BFL's and ComfyUI's single files hold them; `prefix="model.diffusion_model."` is ComfyUI's full-checkpoint
    spelling."""
    sd = tr.state_dict()
    out = {}

    def put(bfl, parts):
        for p in ("weight", "bias"):
            if f"{parts[0]}.{p}" in sd:
                out[f"{prefix}{bfl}.{p}"] = torch.cat([sd[f"{m}.{p}"] for m in parts], dim=0)

    for bfl, ours in {**EMBEDDERS, "img_in": "x_embedder", "final_layer.linear": "proj_out"}.items():
        put(bfl, [ours])
    for p in ("weight", "bias"):
        out[f"{prefix}final_layer.adaLN_modulation.1.{p}"] = _swap_halves(sd[f"norm_out.linear.{p}"])
    for i in range(len(tr.transformer_blocks)):
        b = f"transformer_blocks.{i}."
        for bfl, ours in DOUBLE.items():
            put(f"double_blocks.{i}.{bfl}", [b + ours])
        put(f"double_blocks.{i}.img_attn.qkv", [b + f"attn.to_{x}" for x in "qkv"])
        put(f"double_blocks.{i}.txt_attn.qkv", [b + f"attn.add_{x}_proj" for x in "qkv"])
        out.update({f"{prefix}double_blocks.{i}.{k}": sd[b + v] for k, v in _DOUBLE_NORMS.items()})
    for i in range(len(tr.single_transformer_blocks)):
        b = f"single_transformer_blocks.{i}."
        for bfl, ours in _SINGLE.items():
            put(f"single_blocks.{i}.{bfl}", [b + ours])
        put(f"single_blocks.{i}.linear1", [b + "attn.to_q", b + "attn.to_k", b + "attn.to_v", b + "proj_mlp"])
        out.update({f"{prefix}single_blocks.{i}.{k}": sd[b + v] for k, v in _SINGLE_NORMS.items()})
    n_out, n_sd = sum(t.numel() for t in out.values()), sum(t.numel() for t in sd.values())
    if n_out != n_sd:  # a name was missed (or taken twice)
        raise AssertionError(f"the BFL layout holds {n_out} values, the model {n_sd}")
    return out
