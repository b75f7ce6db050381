"""Fill in blanks with a masked model: rank candidates for each [MASK], independently or jointly.

Results follow the Hugging Face fill-mask pipeline: per mask a list of
{score, token, token_str, sequence}, best first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from tokenizers import Tokenizer

from tinylm.bounds import check_value
from tinylm.data.tokenizer import tokenizer_kind
from tinylm.data.vocab import MASK_ID, N_SPECIAL, UNK_ID
from tinylm.errors import UsageError
from tinylm.infer.config import FILL_MASK_BOUNDS, SHORTLIST
from tinylm.infer.loading import encode_text
from tinylm.infer.simulate import causal_fill
from tinylm.model import Transformer

MASK_ALIASES = ("<mask>",)


@dataclass(frozen=True)
class Candidate:
    """One way to fill one mask."""

    score: float
    token: int
    token_str: str
    sequence: str

    def to_dict(self) -> dict:
        return asdict(self)


def encode_masked(tok: Tokenizer, text: str, block_size: int, causal: bool = False) -> list[int]:
    """Token ids of `text`, each [MASK] (or <mask>) one mask token; they must fit the context
    of a model with `block_size` positions (a causal one spends one on its [EOS] start)."""
    for alias in MASK_ALIASES:
        text = text.replace(alias, "[MASK]")
    if "[MASK]" not in text:
        raise UsageError(
            "the text has no [MASK] to fill; write [MASK] (or <mask>) where a word goes."
        )
    if tokenizer_kind(tok) == "bpe":  # byte-level BPE words carry their leading space, like " be"
        text = text.replace(" [MASK]", "[MASK]")
    ids, _ = encode_text(tok, text, specials=True)
    most = block_size - causal
    if len(ids) > most:
        why = (
            f"its {block_size} positions less one for the [EOS] that starts the text"
            if causal
            else f"its whole context of {block_size} positions"
        )
        raise UsageError(
            f"the text is {len(ids)} tokens long; this {'causal' if causal else 'masked'} "
            f"model reads at most {most} ({why}); shorten the text."
        )
    return ids


def target_ids(tok: Tokenizer, targets: list[str]) -> tuple[list[int], list[str]]:
    """Candidate ids for --targets, and warnings for targets longer than one token."""
    ids, warnings = [], []
    for t in targets:
        enc, _ = encode_text(tok, t)
        if not enc:
            raise UsageError(f"target {t!r} is empty after tokenizing.")
        if enc[0] == UNK_ID:
            warnings.append(f"target {t!r} is not in the vocabulary; it is left out.")
            continue
        if len(enc) > 1:
            warnings.append(f"target {t!r} is {len(enc)} tokens; only its first is scored.")
        ids.append(enc[0])
    if not ids:
        raise UsageError("none of the --targets is in the model's vocabulary.")
    return list(dict.fromkeys(ids)), warnings


@torch.inference_mode()
def _mask_probs(model: Transformer, ids: list[int]) -> tuple[list[int], torch.Tensor]:
    """Positions of the masks and their probabilities (M, V) over the whole vocabulary."""
    device = model.device
    x = torch.tensor([ids], device=device)
    select = x == MASK_ID
    probs = model(x, select=select).float().softmax(-1).cpu()
    return select[0].nonzero().flatten().tolist(), probs


def _rank(probs: torch.Tensor, top_k: int, allowed: list[int] | None) -> list[tuple[float, int]]:
    scores = probs.clone()
    if allowed is not None:
        keep = torch.zeros_like(scores, dtype=torch.bool)
        keep[allowed] = True
        scores[~keep] = -1.0
    scores[:N_SPECIAL] = -1.0  # a blank is never filled with a control token
    values, order = scores.topk(min(top_k, int((scores >= 0).sum())))
    return [(float(v), int(i)) for v, i in zip(values, order, strict=True)]


def _candidates(tok: Tokenizer, ids: list[int], pos: int, ranked) -> list[Candidate]:  # noqa: ANN001
    out = []
    for score, token in ranked:
        filled = list(ids)
        filled[pos] = token
        out.append(
            Candidate(
                score, token, tok.decode([token]), tok.decode(filled, skip_special_tokens=False)
            )
        )
    return out


def fill_mask(
    model: Transformer,
    tok: Tokenizer,
    ids: list[int],
    top_k: int = 5,
    targets: list[int] | None = None,
    joint: bool = False,
    shortlist: int | None = SHORTLIST,
) -> list[list[Candidate]]:
    """Candidates for each mask, in text order. Joint: fill the surest mask first, then re-run.

    A causal model's answer is simulated by rescoring (`tinylm.infer.simulate.causal_fill`), over
    `shortlist` candidates per mask.
    """
    check_value("top_k", top_k, FILL_MASK_BOUNDS["top_k"])
    if model.config.causal:
        ranked = causal_fill(model, ids, shortlist, targets, joint)
        return [_candidates(tok, ids, p, ranked[p][:top_k]) for p in sorted(ranked)]
    positions, probs = _mask_probs(model, ids)
    if not joint:
        return [
            _candidates(tok, ids, p, _rank(probs[i], top_k, targets))
            for i, p in enumerate(positions)
        ]
    results: dict[int, list[Candidate]] = {}
    current = list(ids)
    while positions:
        ranked = [_rank(probs[i], top_k, targets) for i in range(len(positions))]
        best = max(range(len(positions)), key=lambda i: ranked[i][0][0] if ranked[i] else -1.0)
        pos = positions[best]
        results[pos] = _candidates(tok, current, pos, ranked[best])
        current[pos] = ranked[best][0][1]
        positions, probs = _mask_probs(model, current) if len(positions) > 1 else ([], probs)
    return [results[p] for p in sorted(results)]


def completed(tok: Tokenizer, ids: list[int], results: list[list[Candidate]]) -> str:
    """The text with every mask replaced by its best candidate."""
    filled = list(ids)
    masks = [i for i, t in enumerate(ids) if t == MASK_ID]
    for pos, cands in zip(masks, results, strict=True):
        if cands:
            filled[pos] = cands[0].token
    return tok.decode(filled, skip_special_tokens=False)


@torch.inference_mode()
def fill_mask_batch(
    model: Transformer,
    tok: Tokenizer,
    batch: list[list[int]],
    top_k: int = 5,
    targets: list[int] | None = None,
) -> list[list[list[Candidate]]]:
    """`fill_mask` of several texts of one length in one forward: a bidirectional model, each
    mask filled on its own (the server batches concurrent requests this way)."""
    check_value("top_k", top_k, FILL_MASK_BOUNDS["top_k"])
    if model.config.causal or len({len(ids) for ids in batch}) > 1:
        raise ValueError("fill_mask_batch takes texts of one length for a bidirectional model")
    x = torch.tensor(batch, device=model.device)  # (B, T)
    select = x == MASK_ID
    probs = model(x, select=select).float().softmax(-1).cpu()  # (masks in all rows, V)
    rows = probs.split(select.sum(1).tolist())  # the masks of each text, in text order
    out = []
    for ids, row_probs, row_select in zip(batch, rows, select.cpu(), strict=True):
        positions = row_select.nonzero().flatten().tolist()
        ranked = [_rank(p, top_k, targets) for p in row_probs]
        out.append([_candidates(tok, ids, at, r) for at, r in zip(positions, ranked, strict=True)])
    return out


def pipeline_json(results: list[list[Candidate]]) -> list:
    """The Hugging Face fill-mask pipeline's shape: one list of candidates for one mask, a list
    of such lists for several."""
    rows = [[c.to_dict() for c in cands] for cands in results]
    return rows[0] if len(rows) == 1 else rows


def causal_fill_note(name: str, shortlist: int) -> str:
    """The line that labels a causal model's simulated fill-mask (`name`: a run or a model id)."""
    return (
        f"Simulated: {name} is a causal model, which never reads past a blank; candidates are "
        f"its {shortlist} likeliest next tokens, ranked by the likelihood of the whole "
        "completed text (one forward per candidate)."
    )
