"""The tiny random-weight building blocks that several factories share, each built from the real transformers
class: the byte-level CLIP vocabulary, DINOv2 and Depth Anything. One definition, sized per caller: the data
recipe's stages see 56 px through 14 px patches (DINOv2's own patch), the eval backbones 32 px through 8 px."""

from __future__ import annotations

from pathlib import Path


def byte_vocab() -> dict[str, int]:
    """CLIP's byte-level alphabet with no merges: every string tokenizes and the vocabulary stays ~500."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    chars = [chr(c) for c in cs]
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab


def save_dinov2(folder: Path, seed: int, *, size: int, patch: int) -> Path:
    """DINOv2: hidden 32, 2 layers, 2 heads, `size` px input through `patch` px patches."""
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    torch.manual_seed(seed)
    cfg = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=size, patch_size=patch)
    Dinov2Model(cfg).eval().save_pretrained(folder)
    BitImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size}).save_pretrained(folder)
    return folder


def save_depth_anything(folder: Path, seed: int, *, size: int, patch: int, backbone_outputs: dict,
                        keep_aspect_ratio: bool, positive: bool) -> Path:
    """Depth Anything on a 4-layer DINOv2 backbone (hidden 32); its head widened so estimates vary per image, and
    with `positive` its last bias raised so the ReLU'd depth stays above 0. `backbone_outputs` names the backbone
    stages (the transformers keyword the caller was written against: out_indices or out_features)."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    torch.manual_seed(seed)
    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                            image_size=size, patch_size=patch, reshape_hidden_states=False, **backbone_outputs)
    cfg = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16, 32, 32],
                              fusion_hidden_size=16, head_hidden_size=8, patch_size=patch)
    model = DepthAnythingForDepthEstimation(cfg).eval()
    with torch.no_grad():  # default init leaves the head's output ~1e-8; widen it so estimates vary per image
        for conv in (model.head.conv1, model.head.conv2, model.head.conv3):
            torch.nn.init.normal_(conv.weight, std=0.3)
            torch.nn.init.constant_(conv.bias, 0.1)
        if positive:
            torch.nn.init.constant_(model.head.conv3.bias, 2.0)
    model.save_pretrained(folder)
    DPTImageProcessor(size={"height": size, "width": size}, keep_aspect_ratio=keep_aspect_ratio,
                      ensure_multiple_of=patch, do_pad=False).save_pretrained(folder)
    return folder
