"""Training: run setup, configuration, objectives, optimizers, the loop, evaluation."""
