"""Datasets on disk: the RealArbiSR layout that `crop` writes and `bench` reads."""
