"""Datasets and samplers, training, evaluation, metrics and protocols, reports.

    metrics.py      PSNR-Y / SSIM-Y under named protocols (ddir, basicsr, realsr)
    scoring.py      `score`: a folder of results against a folder of ground truth
    datasets.py     RealArbiSR, RealSR v3 and plain paired folders, validated; uint8 cache
    sampler.py      the paper's training sampler, deterministic per (seed, epoch, index)
    profiles.py     `paper` and `quick` recipes, --set overrides, YAML profiles
    training.py     `train`: resumable to the bit, DDP under torchrun
    distributed.py  torchrun process group (gloo on CPU, nccl on CUDA)
    evaluation.py   `test`: full-image inference, per-image and per-scale scores, split by rank
    reports.py      results.csv / .md / .tex, PSNR-vs-scale plot, crops figure
    bench.py        `bench`: train what has no checkpoint, test all, write the reports
"""
