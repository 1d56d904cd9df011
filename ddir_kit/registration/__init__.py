"""Coarse and fine LR-HR alignment, pair resampling, quality gates, cropping, datasets."""
