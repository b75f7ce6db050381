"""The fixed special tokens and tokenizer kinds every tokenizer shares; stdlib only (for --help)."""

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]", "[MASK]")
PAD_ID, UNK_ID, BOS_ID, EOS_ID, MASK_ID = range(len(SPECIAL_TOKENS))
N_SPECIAL = len(SPECIAL_TOKENS)  # ids below this are special tokens
KINDS = ("bpe", "wordpiece", "unigram", "char", "byte")
TRAINED_KINDS = ("bpe", "wordpiece", "unigram")
DEFAULT_VOCAB_SIZE = 2048
MAX_VOCAB_SIZE = 1_000_000
BYTE_VOCAB_SIZE = N_SPECIAL + 256
