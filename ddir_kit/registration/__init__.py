"""LR-HR registration: coarse and fine alignment, relative blur, pair resampling, quality gates,
and the pair record (pair.json) that the dataset stage reads."""
