"""Encoders (EDSR-baseline, RDN), implicit decoders (LIIF, LTE, CiaoSR, DDIR), registry, checkpoints."""
