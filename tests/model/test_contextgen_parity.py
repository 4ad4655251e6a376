"""ContextGen end to end on a tiny random model: the final latents of ContextGenPipeline equal a naive
re-derivation of ContextGen's published inference (tests/model/contextgen_reference.py, no shared code), with
transparent references, overlapping boxes and two single blocks so both masks are in use."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sigmascene.model.contextgen.inputs import load_reference, reference_base_size
from sigmascene.model.contextgen.pipeline import ContextGenPipeline
from sigmascene.testing.tiny_contextgen import make_tiny_contextgen_components, save_contextgen_adapter

from contextgen_reference import reference_latents

H = W = 64
CAPTION = "A photo of a red cat beside a blue vase."


def _rgba(w, h, seed, hole=False):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    inside = ((yy - h / 2) / (h / 2.5)) ** 2 + ((xx - w / 2) / (w / 2.5)) ** 2 < 1
    a[..., 3] = np.where(inside, 255, 0)
    if hole:
        a[h // 3: h // 2, w // 3: w // 2, 3] = 0
    return Image.fromarray(a, "RGBA")


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    p = ContextGenPipeline(**make_tiny_contextgen_components(3))
    p.set_progress_bar_config(disable=True)
    f = save_contextgen_adapter(p.transformer, tmp_path_factory.mktemp("adapter"), rank=8, seed=5, scale=0.2)
    p.load_lora_weights(str(f.parent), weight_name=f.name, adapter_name="flux_mig")
    return p


def _ours(pipe, refs, layout, seed=7, steps=2):
    base = reference_base_size(H, W)
    prepared = [load_reference(img, box, base=base) for img, box in refs]
    torch.manual_seed(1234)  # the global RNG ContextGen's VAE sampling draws from
    return pipe(CAPTION, prepared, layout, height=H, width=W, num_inference_steps=steps,
                generator=torch.Generator().manual_seed(seed), output_type="latent").images


def _theirs(pipe, refs, layout, seed=7, steps=2):
    torch.manual_seed(1234)
    return reference_latents(pipe, CAPTION, refs, layout, H, W, steps, 3.5, seed)


def _rel(a, b):
    return float((a - b).norm() / b.norm())


@pytest.mark.slow
def test_contextgen_latents_equal_a_naive_rederivation_of_their_inference(pipe):
    refs = [(_rgba(40, 28, 1), [4, 6, 40, 44]), (_rgba(22, 36, 2, hole=True), [24, 20, 62, 60])]  # overlapping
    layout = _rgba(64, 64, 9)
    ours, theirs = _ours(pipe, refs, layout), _theirs(pipe, refs, layout)
    assert ours.shape == theirs.shape == (1, (H // 16) * (W // 16), 4 * pipe.vae.config.latent_channels)
    print("relative difference", _rel(ours, theirs))
    assert _rel(ours, theirs) < 1e-4
    moved = [refs[0], (refs[1][0], [32, 20, 62, 60])]  # one box 8 px to the right
    assert _rel(_ours(pipe, moved, layout), ours) > 1e-4  # the comparison can see a box move
