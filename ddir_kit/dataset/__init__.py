"""Datasets on disk: cropping aligned pairs into the RealArbiSR layout, reading it (and RealSR,
City100 and plain paired folders), and validating it."""
