"""Checkerboard detection, scale measurement, the scale(focal) model and its inversion."""
