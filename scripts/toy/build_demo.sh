#!/usr/bin/env bash
# Rebuild the embedded demo model end to end, from nothing, reproducibly (every step is seeded):
#   synthetic data -> VAE -> toy Flux-architecture base -> SIGMA LoRA (`sigmascene train`) -> package.
# One thread per process (2-core machines thrash with more); about three and a quarter hours on 2 CPU cores, see docs/demo.md.
#   bash scripts/toy/build_demo.sh [WORK_DIR]      (default /tmp/toy; never inside the repository)
set -euo pipefail
cd "$(dirname "$0")/../.."
W="${1:-/tmp/toy}"
mkdir -p "$W"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}"

# 1. 3000 training samples of world seed 0 (indices 0..2999 = sigmascene.demo.TRAIN_SEEDS), rendered at 128 px
#    and used at 64 px.
sigmascene data synth --out "$W/data128" --count 3000 --subjects 1-8 --size 128 --seed 0 --workers 2

# 2. The VAE (4x reduction, 8 latent channels) on scenes, identity images and compiled control maps.
python scripts/toy/train_vae.py --data "$W/data128" --out "$W/vae" --steps 3500 --batch 8 --threads 1

# 2b. The decoder alone, fine-tuned on scenes (the only pictures ever decoded) with the encoder frozen, so the
#     latent space the base and LoRA are trained in does not move: two rounds, the second at a lower rate.
python scripts/toy/train_vae.py --data "$W/data128" --out "$W/vae_dec" --init "$W/vae" --decoder-only \
    --steps 6000 --batch 8 --lr 5e-4 --threads 1
python scripts/toy/train_vae.py --data "$W/data128" --out "$W/vae_decoder" --init "$W/vae_dec" --decoder-only \
    --steps 8000 --batch 8 --lr 3e-4 --seed 1 --threads 1

# 3. The base transformer: rectified flow, text-to-image + Kontext-style context, EMA weights.
python scripts/toy/train_base.py --data "$W/data128" --vae "$W/vae" --out "$W/base" --steps 1800 --batch 16 --threads 1

# 4. The SIGMA LoRA, with the project's trainer and the standard recipe scaled down (configs/toy_lora.toml).
sigmascene train configs/toy_lora.toml --set "model.base=\"$W/base\"" \
    --set "data.root=\"$W/data128\"" --set "run.dir=\"$W/lora\""

# 4b. Continued twice (lora.init): a cool-down to lr 0, then a warm restart with a longer decay, every subject count.
sigmascene train configs/toy_lora_cooldown.toml --set "model.base=\"$W/base\"" --set "data.root=\"$W/data128\"" \
    --set "run.dir=\"$W/lora_cool\"" --set "lora.init=\"$W/lora/lora.safetensors\"" --set "cache.dir=\"$W/lora/cache\""
sigmascene train configs/toy_lora_continue.toml --set "model.base=\"$W/base\"" --set "data.root=\"$W/data128\"" \
    --set "run.dir=\"$W/lora_final\"" --set "lora.init=\"$W/lora_cool/lora.safetensors\"" --set "cache.dir=\"$W/lora/cache\""

# 5. Into the package, with a record of the losses and times.
python scripts/toy/ship_demo.py --work "$W" --lora-run "$W/lora" --lora-run "$W/lora_cool" --lora-run "$W/lora_final" \
    --vae-decoder "$W/vae_decoder"
