"""A complete Flux Kontext stack with tiny random weights, built offline, so every code path runs in tests and
on a CPU in seconds: the real classes (FluxTransformer2DModel, AutoencoderKL, CLIPTextModel, T5EncoderModel,
FlowMatchEulerDiscreteScheduler) at toy sizes, with character-level tokenizers made locally.

The sizes obey the facts a real checkpoint obeys, so shape bugs show up here first:
sum(axes_dims_rope) == attention_head_dim, joint_attention_dim == T5 d_model, pooled_projection_dim == CLIP
hidden size, in_channels == 4 * VAE latent channels, and the VAE reduces 8x like Flux's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model.pipeline import SigmaPipeline

TINY: dict[str, Any] = {
    "latent_channels": 4,
    "vae_blocks": (8, 8, 8, 8),  # 4 levels -> 8x like Flux's VAE
    "heads": 2,
    "head_dim": 16,
    "axes_dims_rope": (4, 6, 6),
    "clip_hidden": 32,
    "t5_d_model": 32,
    "clip_max_length": 77,
    "t5_max_length": 64,
}

_SPECIALS = ["<pad>", "</s>", "<unk>", "<s>"]  # T5 convention: pad 0, eos 1
_CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789 .,:;!?'\"-@_()/")


def _char_tokenizer(max_length: int, *, add_bos: bool, pad_token: str) -> Any:
    """A lowercase character-level tokenizer, a fast tokenizer with the same call API as CLIP's and T5's."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(_SPECIALS + _CHARS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    single = ("<s> $A </s>" if add_bos else "$A </s>")
    tok.post_processor = processors.TemplateProcessing(
        single=single, special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token=pad_token, model_max_length=max_length)


def make_tiny_components(seed: int = 0, *, num_layers: int = 1, num_single_layers: int = 1) -> dict[str, Any]:
    """The seven pipeline components with deterministic random weights (same seed -> same weights). More blocks
    for methods whose behaviour differs by block (ContextGen switches masks at num_single_layers // 2)."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    t = TINY
    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=4 * t["latent_channels"], num_layers=num_layers, num_single_layers=num_single_layers,
        attention_head_dim=t["head_dim"], num_attention_heads=t["heads"], joint_attention_dim=t["t5_d_model"],
        pooled_projection_dim=t["clip_hidden"], guidance_embeds=True, axes_dims_rope=t["axes_dims_rope"])
    torch.manual_seed(seed + 1)
    n = len(t["vae_blocks"])
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=t["vae_blocks"], layers_per_block=1,
        latent_channels=t["latent_channels"], norm_num_groups=4, sample_size=32, scaling_factor=0.3611,
        shift_factor=0.1159, use_quant_conv=False, use_post_quant_conv=False)
    tokenizer = _char_tokenizer(t["clip_max_length"], add_bos=True, pad_token="</s>")
    tokenizer_2 = _char_tokenizer(t["t5_max_length"], add_bos=False, pad_token="<pad>")
    vocab = len(tokenizer)
    torch.manual_seed(seed + 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=vocab, hidden_size=t["clip_hidden"], intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=t["clip_max_length"], projection_dim=t["clip_hidden"],
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id))
    torch.manual_seed(seed + 3)
    text_encoder_2 = T5EncoderModel(T5Config(
        vocab_size=vocab, d_model=t["t5_d_model"], d_kv=8, d_ff=64, num_layers=1, num_heads=4,
        feed_forward_proj="gated-gelu", relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1,
        is_encoder_decoder=False, use_cache=False))
    scheduler = FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
        base_image_seq_len=256, max_image_seq_len=4096)
    for m in (transformer, vae, text_encoder, text_encoder_2):
        m.eval()
    return {"transformer": transformer, "vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer,
            "text_encoder_2": text_encoder_2, "tokenizer_2": tokenizer_2, "scheduler": scheduler}


def make_tiny_pipeline(seed: int = 0) -> "SigmaPipeline":
    """A ready SigmaPipeline on CPU with tiny random weights."""
    from ..model.pipeline import SigmaPipeline

    return SigmaPipeline(**make_tiny_components(seed))


def save_tiny_pipeline(directory: str | Path, seed: int = 0) -> Path:
    """Write a tiny pipeline as a diffusers folder, usable as `sigmascene render --base DIR`."""
    directory = Path(directory)
    make_tiny_pipeline(seed).save_pretrained(directory)
    return directory


def save_tiny_sigma_lora(path: str | Path, seed: int = 0, *, rank: int = 2, condition_mask: bool = False,
                         zero: bool = True) -> Path:
    """A SIGMA LoRA file (sigmascene metadata) for the tiny transformer of `make_tiny_pipeline(seed)`: what makes
    a tiny base render with `--method sigma`. `zero` keeps peft's default init (B = 0), so the LoRA changes
    nothing and a render equals the bare base's; else B is random too."""
    import torch

    from ..model.lora import add_sigma_lora, save_sigma_lora

    transformer = make_tiny_components(seed)["transformer"]
    add_sigma_lora(transformer, rank=rank, alpha=rank)
    if not zero:
        gen = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for name, p in transformer.named_parameters():
                if "lora_B" in name:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
    return save_sigma_lora(path, transformer, rank=rank, alpha=rank, condition_mask=condition_mask,
                           config_hash=f"tiny-{seed}")
