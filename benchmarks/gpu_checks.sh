#!/usr/bin/env bash
# The checks that need a GPU, as one short run (56 s of command time on an H200, 2026-11-26):
#   1. the CUDA tests (fast == reference and tiled == CPU on the GPU, GPU training == CPU run);
#   2. the paper-profile training step, fast vs reference path, on the GPU;
#   3. `ddir-kit upscale` time with EDSR-DDIR on the GPU.
# Usage: [CITY100=DIR] [OUT=gpu-out] bash benchmarks/gpu_checks.sh
#   CITY100: the City100 pairs, nikon_NNNH.png / nikon_NNNL.png (default: tests/data/city100);
#   the tests find their data as they always do (DDIR_KIT_SHARED, if set, is passed on).
# Results land in $OUT (logs and results files written by benchmarks/harness.py) and are meant
# to be copied to benchmarks/results/*_cuda.md.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
CITY100=${CITY100:-tests/data/city100}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1

nvidia-smi -L | tee "$OUT/gpu.txt"
python3 -c "import torch, cv2; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'opencv', cv2.__version__)" \
  | tee -a "$OUT/gpu.txt"

timeout 180 python3 -m pytest -q -p no:cacheprovider -rs tests/test_models.py tests/test_models_cli.py \
  tests/test_benchmark_training.py -k "cuda or CUDA" 2>&1 | tee "$OUT/pytest_cuda.txt" | tail -15

timeout 150 python3 benchmarks/train_step_speed.py --device cuda --threads 8 --rounds 10 \
  --out "$OUT/train_step_speed_cuda.md" 2>&1 | tail -14

timeout 240 python3 benchmarks/upscale_memory.py --device cuda --max-memory 16GB \
  --city100 "$CITY100" --out "$OUT/upscale_cuda.md" 2>&1 | tail -4
cat "$OUT/upscale_cuda.md"
