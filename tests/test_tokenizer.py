"""Tokenizer kinds: exact round trips, fixed special ids, vocabulary checks."""

from __future__ import annotations

import pytest

from tinylm.data.tokenizer import build_tokenizer, resolve_vocab_size, tokenizer_kind
from tinylm.data.vocab import SPECIAL_TOKENS
from tinylm.errors import UsageError

TEXTS = {
    "ascii": "To be, or not to be, that is the question:\nWhether 'tis nobler\n",
    "french": "Où est la bibliothèque ? Ça coûte cher, à côté du théâtre. Œuvre, naïve, élève.\n",
    "emoji": "Party 🎉🎉 tonight 👩‍👩‍👧 and 🇫🇷 flags\n",
    "crlf_normalised": "line one\nline two\n\nline four\n",
}
TRAIN = "".join(TEXTS.values()) * 30


def _build(kind: str, vocab: int | None = None):
    alphabet = set(TRAIN)
    size = resolve_vocab_size(kind, vocab, alphabet)
    return build_tokenizer(kind, iter([TRAIN]), size, 1, alphabet)


@pytest.mark.parametrize("kind", ["bpe", "byte"])
@pytest.mark.parametrize("name", list(TEXTS))
def test_byte_level_round_trip_is_exact(kind: str, name: str) -> None:
    tok = _build(kind, 300 if kind == "bpe" else None)
    text = TEXTS[name]
    ids = tok.encode(text).ids
    assert tok.decode(ids) == text


@pytest.mark.parametrize("kind", ["bpe", "byte"])
def test_byte_level_never_produces_unknown(kind: str) -> None:
    tok = _build(kind, 300 if kind == "bpe" else None)
    ids = tok.encode("unseen script: 日本語 ✓ ₿ \x07").ids
    assert 1 not in ids  # [UNK]


def test_char_kind_round_trip_and_unknown() -> None:
    tok = _build("char")
    assert tok.get_vocab_size() == len(SPECIAL_TOKENS) + len(set(TRAIN))
    text = TEXTS["french"] + TEXTS["emoji"]
    enc = tok.encode(text)
    assert len(enc.ids) == len(text)  # one token per character
    assert tok.decode(enc.ids) == text
    assert tok.encode("Ωx").ids[0] == 1  # a character outside the corpus is [UNK]


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "unigram", "char", "byte"])
def test_special_token_ids_are_stable_across_kinds(kind: str) -> None:
    tok = _build(kind, 400 if kind in ("bpe", "wordpiece", "unigram") else None)
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    assert tokenizer_kind(tok) == kind


def test_wordpiece_and_unigram_keep_words() -> None:
    for kind in ("wordpiece", "unigram"):
        tok = _build(kind, 400)
        assert "question" in tok.decode(tok.encode("the question").ids)


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "char"])
def test_vocab_size_too_small_for_alphabet(kind: str) -> None:
    with pytest.raises(UsageError, match="too small"):
        resolve_vocab_size(kind, 10, set(TRAIN))


def test_vocab_size_absurd_and_byte_fixed() -> None:
    with pytest.raises(UsageError, match="out of range"):
        resolve_vocab_size("bpe", 10**9, set("ab"))
    with pytest.raises(UsageError, match="fixed vocabulary"):
        resolve_vocab_size("byte", 1000, set("ab"))
