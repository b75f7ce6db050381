"""Corpus readers, text cleaning, tokenizers and token files."""
