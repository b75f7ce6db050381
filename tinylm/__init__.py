"""tinylm: train tiny causal (GPT) and masked (BERT) language models on a laptop."""

__version__ = "0.1.0"
