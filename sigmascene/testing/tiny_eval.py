"""Tiny random-weight backbones written as real local model folders, so the whole eval path runs offline.

They go through exactly the loading code real weights use (AutoModel/AutoProcessor.from_pretrained on a folder),
which is the point: CI exercises the plumbing, and `sigmascene eval tiny-weights DIR` gives users a smoke test
of a set before they fetch gigabytes. Their scores mean nothing.
"""

from __future__ import annotations

import io
from pathlib import Path

from .tiny_parts import byte_vocab, save_depth_anything, save_dinov2

_WORDS = ("a photo of a dog cat chair lamp plant vase corgi armchair rug room garden good bad sunlit living "
          "wooden floor place these subjects in to compose the on with near red blue green small large").split()



def save_tiny_clip(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    torch.manual_seed(seed)
    vocab = byte_vocab()
    tok = CLIPTokenizer(vocab=vocab, merges=[])
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=vocab["<|startoftext|>"],
                         eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"]),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16)
    CLIPModel(cfg).eval().save_pretrained(folder)
    ip = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=ip, tokenizer=tok).save_pretrained(folder)
    return folder


def save_tiny_siglip(folder: Path, seed: int = 0) -> Path:
    import sentencepiece as spm
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipProcessor, SiglipTokenizer

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    sentences = [" ".join(_WORDS[i:] + _WORDS[:i]) for i in range(len(_WORDS))]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(sentences), model_writer=buf, vocab_size=64,
                                   model_type="unigram", character_coverage=1.0, unk_id=0, pad_id=1, eos_id=2,
                                   bos_id=-1, hard_vocab_limit=False, minloglevel=2)
    sp_path = folder / "spiece.model"
    sp_path.write_bytes(buf.getvalue())
    tok = SiglipTokenizer(str(sp_path), model_max_length=16)
    cfg = SiglipConfig(
        text_config=dict(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=16, pad_token_id=1, eos_token_id=2,
                         bos_token_id=None),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8))
    SiglipModel(cfg).eval().save_pretrained(folder)
    SiglipProcessor(image_processor=SiglipImageProcessor(size={"height": 32, "width": 32}),
                    tokenizer=tok).save_pretrained(folder)
    return folder


def save_tiny_dino(folder: Path, seed: int = 0) -> Path:
    return save_dinov2(folder, seed, size=32, patch=8)


def save_tiny_depth(folder: Path, seed: int = 0) -> Path:
    return save_depth_anything(folder, seed, size=32, patch=8, backbone_outputs={"out_indices": [1, 2, 3, 4]},
                               keep_aspect_ratio=True, positive=False)


def save_tiny_weights(root: str | Path, seed: int = 0) -> Path:
    """Write dino/, siglip/, depth/, clip/ under `root` plus an eval.toml naming them; return that eval.toml
    (read it with `sigmascene.eval.weights.Weights.from_toml`).

    MUSIQ has no tiny stand-in: pyiqa (its implementation) cannot be installed without torchvision."""
    import logging

    from transformers.utils import logging as hf_logging

    root = Path(root)
    old = hf_logging.get_verbosity()
    hf_logging.set_verbosity(logging.ERROR)  # random configs trigger harmless token-id warnings
    try:
        paths = {"dino": save_tiny_dino(root / "dino", seed), "siglip": save_tiny_siglip(root / "siglip", seed),
                 "depth": save_tiny_depth(root / "depth", seed), "clip": save_tiny_clip(root / "clip", seed)}
    finally:
        hf_logging.set_verbosity(old)
    lines = ["# tiny random-weight backbones: for smoke tests only, their scores mean nothing", "[weights]"]
    lines += [f'{k} = "{p.name}"' for k, p in paths.items()]
    (root / "eval.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "eval.toml"
