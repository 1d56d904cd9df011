"""Datasets and samplers, training, evaluation, metrics and protocols, reports."""
