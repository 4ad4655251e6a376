"""What the toy-model scripts share: the architecture of the demo base, and loading synthetic-world images.

The demo model keeps Flux Kontext's architecture (the real diffusers classes, so SigmaPipeline runs it
unchanged) at a size two CPU cores train in well under an hour: a 64 px canvas, a VAE that reduces 4x (two
downsamplings instead of Flux's three, so a 64 px image is a 16x16 latent and 8x8 tokens), a transformer of
2 dual + 4 single blocks 192 wide, and random frozen char-level T5/CLIP encoders (text only has to tell rooms
apart; it is not the point of the demo). The transformer has no guidance embedding: nothing here is distilled.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np

SIZE = 64  # the canvas, = sigmascene.demo.DEMO_CANVAS
VAE = {"blocks": (16, 32, 64), "latent_channels": 8}
TRANSFORMER = {"heads": 3, "head_dim": 64, "axes_dims_rope": (16, 24, 24), "dual": 2, "single": 4}
TEXT = {"clip_hidden": 64, "t5_d_model": 64, "clip_max_length": 77, "t5_max_length": 64}


def log(msg: str, file: Path | None = None) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    if file is not None:
        with open(file, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def read_index(root: Path, count: int) -> list[dict]:
    """The first `count` samples of a synth dataset (the training indices), in id order."""
    lines = (root / "index.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    rows.sort(key=lambda r: r["id"])
    if len(rows) < count:
        raise SystemExit(f"{root} has {len(rows)} samples, {count} needed: run `sigmascene data synth` first")
    return rows[:count]


def load_rgb(path: Path, size: int) -> np.ndarray:
    """An image as (size, size, 3) uint8, downsampled with a Lanczos filter (the data is rendered at 2x)."""
    from PIL import Image

    im = Image.open(path).convert("RGB")
    if im.size != (size, size):
        im = im.resize((size, size), Image.LANCZOS)
    return np.asarray(im, dtype=np.uint8)


def seed_all(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_vae(latent_channels: int = VAE["latent_channels"]):
    from diffusers import AutoencoderKL

    n = len(VAE["blocks"])
    return AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=VAE["blocks"], layers_per_block=1,
        latent_channels=latent_channels, norm_num_groups=8, sample_size=SIZE, scaling_factor=1.0,
        shift_factor=0.0, use_quant_conv=False, use_post_quant_conv=False)


def make_transformer():
    from diffusers import FluxTransformer2DModel

    t = TRANSFORMER
    return FluxTransformer2DModel(
        patch_size=1, in_channels=4 * VAE["latent_channels"], num_layers=t["dual"], num_single_layers=t["single"],
        attention_head_dim=t["head_dim"], num_attention_heads=t["heads"], joint_attention_dim=TEXT["t5_d_model"],
        pooled_projection_dim=TEXT["clip_hidden"], guidance_embeds=False, axes_dims_rope=t["axes_dims_rope"])


def make_text_components(seed: int):
    """Random frozen char-level CLIP and T5 encoders with their tokenizers (the tiny stack's, wider)."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    from sigmascene.testing.tiny_pipeline import _char_tokenizer

    tokenizer = _char_tokenizer(TEXT["clip_max_length"], add_bos=True, pad_token="</s>")
    tokenizer_2 = _char_tokenizer(TEXT["t5_max_length"], add_bos=False, pad_token="<pad>")
    vocab = len(tokenizer)
    torch.manual_seed(seed)
    clip = CLIPTextModel(CLIPTextConfig(
        vocab_size=vocab, hidden_size=TEXT["clip_hidden"], intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=TEXT["clip_max_length"], projection_dim=TEXT["clip_hidden"],
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id))
    torch.manual_seed(seed + 1)
    t5 = T5EncoderModel(T5Config(
        vocab_size=vocab, d_model=TEXT["t5_d_model"], d_kv=16, d_ff=128, num_layers=2, num_heads=4,
        feed_forward_proj="gated-gelu", relative_attention_num_buckets=16, pad_token_id=0, eos_token_id=1,
        is_encoder_decoder=False, use_cache=False))
    for m in (clip, t5):
        m.eval().requires_grad_(False)
    return {"text_encoder": clip, "tokenizer": tokenizer, "text_encoder_2": t5, "tokenizer_2": tokenizer_2}


def make_scheduler():
    from diffusers import FlowMatchEulerDiscreteScheduler

    # Flux's schedule; with 64 image tokens the dynamic shift mu is ~0.47.
    return FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
        base_image_seq_len=256, max_image_seq_len=4096)
