"""Test support that tests, benchmarks and the `--tiny-models` quick starts import: tiny random-weight models
built from the real diffusers/transformers classes, and the fuzzers. The product's own code paths never need it.

One family of tiny models, sized so a whole path runs on a CPU in seconds (what they produce means nothing; that
they load through the same code as real weights is the point):

- tiny_pipeline: Flux Kontext components for SigmaPipeline and stock FluxKontextPipeline (its `TINY` table).
  Transformer: 1 double + 1 single block, 2 heads x 16, RoPE axes (4, 6, 6). VAE: 4 levels of 8 channels (8x,
  as Flux's, so 16 px per packed token), 4 latent channels. CLIP (hidden 32, 77 tokens) and T5 (d_model 32,
  64 tokens) with a character tokenizer.
- tiny_contextgen: the same base with 2 single blocks (both of ContextGen's masks run), and an adapter in
  ContextGen's file layout (rank 16 by default).
- tiny_stages: one folder per data-recipe stage (Flux, Kontext, OWLv2, Grounding DINO, SAM, Depth Anything,
  DINOv2, GPT-2): 56 px vision inputs through 14 px patches; SAM 64 px.
- tiny_eval: the eval backbones (CLIP, SigLIP, DINOv2, Depth Anything): 32 px inputs through 8 px patches.
- tiny_parts: what two factories share (the byte vocabulary, DINOv2, Depth Anything), sized by the caller.
- files: small files that stand in for big ones (a PNG whose header claims any size).
"""
