"""Inference: loading checkpoints, sampling, fill-mask, simulation, scoring, compare, attention."""
