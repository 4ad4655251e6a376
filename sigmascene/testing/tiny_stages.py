"""Tiny random-weight model folders for every build stage, written from the real diffusers/transformers classes.

They load through exactly the code real checkpoints use (`from_pretrained` on a local folder), so tests and a
new user's smoke run exercise the whole pipeline offline in seconds. What they produce means nothing; the
config `write_tiny_models` returns lowers the filters' thresholds so that random models keep some samples.
The sizes obey the constraints listed in the project's facts file (SAM's num_pos_feats, Depth Anything's
backbone stages, ...).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .tiny_parts import byte_vocab, save_depth_anything, save_dinov2

# model folder names under the tiny root, by stage
FOLDERS = {"image": "flux", "repose": "kontext", "detect": "owlv2", "segment": "sam", "depth": "depth",
           "identity": "dinov2", "llm": "gpt2", "grounding": "grounding-dino"}


def save_tiny_flux(folder: Path, seed: int = 0, kontext: bool = False) -> Path:
    from diffusers import FluxKontextPipeline, FluxPipeline

    from .tiny_pipeline import make_tiny_components

    cls = FluxKontextPipeline if kontext else FluxPipeline
    cls(**make_tiny_components(seed)).save_pretrained(folder)
    return folder


def save_tiny_owlv2(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor,
                              Owlv2Processor)

    torch.manual_seed(seed)
    vocab = byte_vocab()
    tok = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)
    cfg = Owlv2Config(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=16, bos_token_id=vocab["<|startoftext|>"],
                         eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"]),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=64, patch_size=16),
        projection_dim=32)
    model = Owlv2ForObjectDetection(cfg).eval()
    with torch.no_grad():  # random box offsets give degenerate boxes; zero puts each box on its patch's cell
        model.box_head.dense2.weight.zero_()
        model.box_head.dense2.bias.zero_()
    model.save_pretrained(folder)
    ip = Owlv2ImageProcessor(size={"height": 64, "width": 64})
    Owlv2Processor(image_processor=ip, tokenizer=tok).save_pretrained(folder)
    return folder


def save_tiny_grounding_dino(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (BertConfig, BertTokenizer, GroundingDinoConfig, GroundingDinoForObjectDetection,
                              GroundingDinoImageProcessor, GroundingDinoProcessor, SwinConfig)

    torch.manual_seed(seed)
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "'", "-"]
    words += list(letters) + [f"##{c}" for c in letters]
    tok = BertTokenizer(vocab={w: i for i, w in enumerate(words)}, do_lower_case=True, model_max_length=128)
    backbone = SwinConfig(image_size=64, patch_size=4, embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                          window_size=2, out_features=["stage2", "stage3", "stage4"])
    text = BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=32, max_position_embeddings=256)
    cfg = GroundingDinoConfig(backbone_config=backbone, text_config=text, d_model=32, encoder_layers=1,
                              decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
                              encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=16, num_feature_levels=3,
                              encoder_n_points=2, decoder_n_points=2, max_text_len=256)
    GroundingDinoForObjectDetection(cfg).eval().save_pretrained(folder)
    ip = GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 64})
    GroundingDinoProcessor(image_processor=ip, tokenizer=tok).save_pretrained(folder)
    return folder


def save_tiny_sam(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import SamConfig, SamImageProcessor, SamModel, SamProcessor

    torch.manual_seed(seed)
    cfg = SamConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=64, patch_size=16, output_channels=16, num_pos_feats=8,
                           window_size=2, global_attn_indexes=[1], mlp_dim=64),
        prompt_encoder_config=dict(hidden_size=16, image_size=64, patch_size=16, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_dim=32,
                                 iou_head_hidden_dim=16))
    SamModel(cfg).eval().save_pretrained(folder)
    ip = SamImageProcessor(size={"longest_edge": 64}, pad_size={"height": 64, "width": 64},
                           mask_size={"longest_edge": 16}, mask_pad_size={"height": 16, "width": 16})
    SamProcessor(image_processor=ip).save_pretrained(folder)
    return folder


def save_tiny_dinov2(folder: Path, seed: int = 0) -> Path:
    return save_dinov2(folder, seed, size=56, patch=14)


def save_tiny_depth(folder: Path, seed: int = 0) -> Path:
    return save_depth_anything(folder, seed, size=56, patch=14,
                               backbone_outputs={"out_features": ["stage1", "stage2", "stage3", "stage4"]},
                               keep_aspect_ratio=False, positive=True)


def save_tiny_gpt2(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

    torch.manual_seed(seed)
    vocab = {k: v for k, v in byte_vocab().items() if not k.endswith("</w>") and not k.startswith("<|")}
    vocab["<|endoftext|>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    import json

    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tok = GPT2Tokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    cfg = GPT2Config(vocab_size=len(vocab), n_positions=1024, n_embd=32, n_layer=2, n_head=2,
                     bos_token_id=vocab["<|endoftext|>"], eos_token_id=vocab["<|endoftext|>"])
    GPT2LMHeadModel(cfg).eval().save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def write_tiny_models(root: str | Path, seed: int = 0, llm: bool = False, grounding: bool = False) -> dict[str, Path]:
    """Write every stage's tiny folder under `root` (plus a GPT-2 for the LLM prompts and a Grounding DINO as
    the other detector, on request); returns {stage: folder}."""
    from transformers.utils import logging as hf_logging

    root = Path(root)
    makers = {"image": lambda p: save_tiny_flux(p, seed), "repose": lambda p: save_tiny_flux(p, seed, kontext=True),
              "detect": lambda p: save_tiny_owlv2(p, seed), "segment": lambda p: save_tiny_sam(p, seed),
              "depth": lambda p: save_tiny_depth(p, seed), "identity": lambda p: save_tiny_dinov2(p, seed)}
    if llm:
        makers["llm"] = lambda p: save_tiny_gpt2(p, seed)
    if grounding:
        makers["grounding"] = lambda p: save_tiny_grounding_dino(p, seed)
    old, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity(logging.ERROR)  # random configs trigger harmless token-id warnings
    hf_logging.disable_progress_bar()
    try:
        return {stage: make(root / FOLDERS[stage]) for stage, make in makers.items()}
    finally:
        hf_logging.set_verbosity(old)
        if bars:
            hf_logging.enable_progress_bar()


def tiny_config(models: dict[str, Path], **build) -> dict:
    """A raw build config using the tiny folders: 64x64 targets, 2 steps, filters opened wide enough that random
    models keep samples (every stage still runs its model)."""
    cfg: dict[str, Any] = {
        "build": {"seed": 0, "count": 6, "width": 64, "height": 64, "identity_size": 32, "subjects": [0.5, 0.5],
                  "shard_size": 3, "device": "cpu", "threads": 1},
        "stages": {
            "image": {"model": str(models["image"]), "steps": 2, "max_sequence_length": 32, "num_gpus": 0},
            "segment": {"detector": str(models["detect"]), "model": str(models["segment"]), "box_threshold": 0.0,
                        "min_area": 0.0, "max_area": 1.0, "max_overlap": 1.0, "num_gpus": 0},
            "depth": {"model": str(models["depth"]), "num_gpus": 0},
            "repose": {"model": str(models["repose"]), "steps": 2, "max_sequence_length": 32, "num_gpus": 0},
            "identity": {"model": str(models["identity"]), "min_similarity": -1.0, "max_similarity": 1.0 - 1e-9,
                         "num_gpus": 0},
        },
    }
    cfg["build"].update(build)
    if "grounding" in models:
        cfg["stages"]["segment"]["detector"] = str(models["grounding"])
    if "llm" in models:
        cfg["stages"]["prompts"] = {"kind": "llm", "model": str(models["llm"]), "retries": 1, "max_new_tokens": 24}
    return cfg
