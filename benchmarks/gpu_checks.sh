#!/usr/bin/env bash
# The checks that need a GPU, as one short run (steps 1-3: 56 s of command time on an H200,
# 2026-11-26; steps 4-6 are new and not yet timed on a GPU: their timeouts add up to 10 min,
# so a device session may run them apart, e.g. STEPS=1,4 then STEPS=5,6):
#   1. the CUDA tests (fast == reference and tiled == CPU on the GPU, GPU training == CPU run,
#      TF32 applied while training and restored, query chunks from free memory);
#   2. the paper-profile training step, fast vs reference path, on the GPU;
#   3. `ddir-kit upscale` time with EDSR-DDIR on the GPU;
#   4. the paper-shape step of every method at fp32 / TF32 / bf16 (+ channels_last, + compile
#      for LIIF and DDIR) against the measured matmul peaks, a profile of where the time goes,
#      and the paper profile's wall time (benchmarks/gpu_train_step.py);
#   5. a --fast demo dataset (unless DEMO_DATA names one);
#   6. bf16 / TF32 against fp32 PSNR on it at equal iterations (gpu_train_step.py --parity).
# Usage: [STEPS=1,2,3,4,5,6] [CITY100=DIR] [DEMO_DATA=DIR] [OUT=gpu-out] bash benchmarks/gpu_checks.sh
#   CITY100: the City100 pairs, nikon_NNNH.png / nikon_NNNL.png (default: tests/data/city100);
#   DEMO_DATA: a dataset made by `python -m ddir_kit.cli demo --fast` (its demo-out/dataset);
#   the tests find their data as they always do (DDIR_KIT_SHARED, if set, is passed on).
# Results land in $OUT (logs and results files written by benchmarks/harness.py) and are meant
# to be copied to benchmarks/results/*_cuda.md.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
CITY100=${CITY100:-tests/data/city100}
STEPS=${STEPS:-1,2,3,4,5,6}
DEMO_DATA=${DEMO_DATA:-}
want() { case ",$STEPS," in *",$1,"*) return 0 ;; esac; return 1; }
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1

nvidia-smi -L | tee "$OUT/gpu.txt"
python3 -c "import torch, cv2; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'opencv', cv2.__version__)" \
  | tee -a "$OUT/gpu.txt"

want 1 && timeout 180 python3 -m pytest -q -p no:cacheprovider -rs tests/test_models.py tests/test_models_cli.py \
  tests/test_benchmark_training.py tests/test_training_acceleration.py -k "cuda or CUDA" 2>&1 \
  | tee "$OUT/pytest_cuda.txt" | tail -15

want 2 && timeout 150 python3 benchmarks/train_step_speed.py --device cuda --threads 8 --rounds 10 \
  --out "$OUT/train_step_speed_cuda.md" 2>&1 | tail -14

if want 3; then
  timeout 240 python3 benchmarks/upscale_memory.py --device cuda --max-memory 16GB \
    --city100 "$CITY100" --out "$OUT/upscale_cuda.md" 2>&1 | tail -4
  cat "$OUT/upscale_cuda.md"
fi

want 4 && timeout 300 python3 benchmarks/gpu_train_step.py --compile liif,ddir \
  --out "$OUT/gpu_train_step_cuda.md" 2>&1 | tail -40

if want 5 && [ -z "$DEMO_DATA" ]; then
  # the demo up to its dataset stage (about a minute on a CPU); its bench stage is not needed
  python3 -m ddir_kit.cli demo --fast --device cuda --out "$OUT/demo" > "$OUT/demo.txt" 2>&1 &
  demo_pid=$!
  for _ in $(seq 180); do
    [ -f "$OUT/demo/stages/dataset.json" ] && break
    kill -0 "$demo_pid" 2>/dev/null || break
    sleep 1
  done
  kill "$demo_pid" 2>/dev/null
  wait "$demo_pid" 2>/dev/null
fi
DEMO_DATA=${DEMO_DATA:-$OUT/demo/dataset}
want 6 && timeout 120 python3 benchmarks/gpu_train_step.py --parity --data "$DEMO_DATA" --epochs 50 \
  --work "$OUT/parity_runs" --out "$OUT/gpu_train_step_parity_cuda.md" 2>&1 | tail -16
