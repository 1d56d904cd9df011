#!/usr/bin/env bash
# The checks that need a GPU, as one short run (56 s of command time on an H200, 2026-11-26):
#   1. the CUDA tests (fast == reference and tiled == CPU on the GPU, GPU training == CPU run);
#   2. the paper-profile training step, fast vs reference path, on the GPU;
#   3. `ddir-kit upscale` time with EDSR-DDIR on the GPU.
# Usage: DDIR_KIT_SHARED=../shared OUT=gpu-out bash benchmarks/gpu_checks.sh
# Results land in $OUT (logs) and are meant to be copied to benchmarks/results/*_cuda.md.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
SHARED=${DDIR_KIT_SHARED:-../shared}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 DDIR_KIT_SHARED=$SHARED

nvidia-smi -L | tee "$OUT/gpu.txt"
python3 -c "import torch, cv2; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'opencv', cv2.__version__)" \
  | tee -a "$OUT/gpu.txt"

timeout 180 python3 -m pytest -q -p no:cacheprovider -rs tests/test_models.py tests/test_models_cli.py \
  tests/test_benchmark_training.py -k "cuda or CUDA" 2>&1 | tee "$OUT/pytest_cuda.txt" | tail -15

timeout 150 python3 benchmarks/train_step_speed.py --device cuda --threads 8 --rounds 10 \
  --results "$OUT/train_step_speed_cuda.md" 2>&1 | tail -14

timeout 240 python3 benchmarks/upscale_memory.py --device cuda --max-memory 16GB \
  --source "$SHARED/data/city100/nikon_001H.png" --results "$OUT/upscale_cuda.md" 2>&1 | tail -4
cat "$OUT/upscale_cuda.md"
