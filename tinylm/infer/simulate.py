"""Cross-objective inference, always labelled as simulated: each family doing the other's job.

A causal model fills a blank by scoring whole completed sequences: the left context picks a
shortlist (its next-token distribution at the blank) and the right context reranks it, since
every later token's likelihood depends on the choice. Cost: one forward of the sequence per
candidate, `shortlist` times a masked model's single forward.

A masked model generates mask-predict style: append [MASK]s, predict them all, keep the surest
(or the leftmost) and predict the rest again, for a few rounds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from tinylm.bounds import check_value
from tinylm.data.vocab import EOS_ID, MASK_ID, N_SPECIAL
from tinylm.infer.config import GENERATE_BOUNDS, ROUNDS, SHORTLIST, SamplingConfig
from tinylm.infer.sampling import repetition_penalty, sampling_probs
from tinylm.metrics import next_token_nll
from tinylm.model import Transformer

RESCORE_BATCH = 64  # sequences per forward while rescoring


@torch.inference_mode()
def sequence_logprob(model: Transformer, seqs: torch.Tensor, start: int) -> torch.Tensor:
    """log p(x_t | x_<t) summed over positions t >= start (>= 1) of each row of seqs (N, T)."""
    out = []
    for batch in seqs.split(RESCORE_BATCH):
        batch = batch.to(model.device)
        counted = torch.zeros_like(batch[:, :-1], dtype=torch.bool)
        counted[:, start - 1 :] = True  # the head runs only where position t-1 predicts t >= start
        logits = model(batch[:, :-1], select=counted)  # (N * (T - start), V)
        nll = next_token_nll(logits, batch[:, start:], reduction="none")  # (N, T - start)
        out.append(-nll.sum(-1).cpu())
    return torch.cat(out)


@torch.inference_mode()
def _next_probs(model: Transformer, prefix: list[int]) -> torch.Tensor:
    x = torch.tensor([prefix], device=model.device)
    probs = model(x)[0, -1].float().softmax(-1).cpu()
    probs[:N_SPECIAL] = 0.0  # a blank is never filled with a control token
    return probs


def rescore_blank(
    model: Transformer,
    seq: list[int],
    pos: int,
    shortlist: int | None = SHORTLIST,
    candidates: list[int] | None = None,
) -> list[tuple[float, int]]:
    """(probability, token) for position `pos` of `seq` (pos >= 1), best first.

    Candidates are `candidates` if given, else the `shortlist` likeliest next tokens after
    seq[:pos] (None: the whole vocabulary). Each is scored by the likelihood of the whole
    sequence with it in place; probabilities are normalised over the candidates.
    """
    if candidates is None:
        probs = _next_probs(model, seq[:pos])
        k = int((probs > 0).sum()) if shortlist is None else min(shortlist, int((probs > 0).sum()))
        candidates = probs.topk(k).indices.tolist()
    seqs = torch.tensor([seq] * len(candidates))
    seqs[:, pos] = torch.tensor(candidates)
    scores = sequence_logprob(model, seqs, pos).softmax(0)
    order = scores.argsort(descending=True).tolist()
    return [(float(scores[i]), candidates[i]) for i in order]


def causal_fill(
    model: Transformer,
    ids: list[int],
    shortlist: int | None = SHORTLIST,
    candidates: list[int] | None = None,
    joint: bool = False,
) -> dict[int, list[tuple[float, int]]]:
    """Ranked fills for each [MASK] of ids, by a causal model: {position in ids: ranking}.

    The text is read as the start of a document. Other blanks stand in as the model's greedy
    left-to-right guesses (a causal model cannot read [MASK]); `joint` commits the surest
    blank and rescores the rest with it, like `fill_mask(joint=True)`.
    """
    seq = [EOS_ID, *ids]
    masks = [i for i, t in enumerate(seq) if t == MASK_ID]
    for p in masks:  # provisional fills, left to right
        seq[p] = int(_next_probs(model, seq[:p]).argmax())
    results: dict[int, list[tuple[float, int]]] = {}
    todo = list(masks)
    while todo:
        ranked = {p: rescore_blank(model, seq, p, shortlist, candidates) for p in todo}
        if not joint:
            results.update(ranked)
            break
        best = max(todo, key=lambda p: ranked[p][0][0])
        results[best] = ranked[best]
        seq[best] = ranked[best][0][1]
        todo.remove(best)
    return {p - 1: r for p, r in results.items()}


def _sample_rows(
    logits: torch.Tensor, cfg: SamplingConfig, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One token per row of logits (M, V) and its probability under the filters."""
    if cfg.temperature == 0.0:
        probs = logits.softmax(-1)
        tokens = probs.argmax(-1)
    else:
        probs = sampling_probs(logits, cfg)
        tokens = torch.multinomial(probs, 1, generator=generator)[:, 0]
    return tokens, probs.gather(-1, tokens[:, None])[:, 0]


@torch.inference_mode()
def mask_predict(
    model: Transformer,
    prompt: list[int],
    cfg: SamplingConfig,
    generator: torch.Generator | None = None,
    rounds: int = ROUNDS,
    left_to_right: bool = False,
) -> Iterator[int]:
    """Yield new tokens from a masked model, a chunk at a time (at most half a block each).

    Each chunk starts as [MASK]s after the context; after round r of `rounds`, r/rounds of
    them are fixed, the surest (or the leftmost) first; the others are predicted again.
    """
    check_value("rounds", rounds, GENERATE_BOUNDS["rounds"])
    block = model.config.block_size
    ids = list(prompt) or [EOS_ID]
    left = cfg.max_new_tokens
    while left > 0:
        n = min(left, block - min(len(ids), block // 2))
        x = torch.tensor([ids[len(ids) - (block - n) :] + [MASK_ID] * n])
        new = x.size(1) - n
        open_ = torch.zeros(x.shape, dtype=torch.bool)
        open_[0, new:] = True
        for r in range(1, rounds + 1):
            logits = model(x.to(model.device), select=open_.to(model.device)).float().cpu()
            logits[:, :N_SPECIAL] = float("-inf")
            logits = repetition_penalty(logits, x[0][~open_[0]].tolist(), cfg.repetition_penalty)
            tokens, conf = _sample_rows(logits, cfg, generator)
            slots = open_[0].nonzero()[:, 0]
            keep = math.ceil(n * r / rounds) - (n - len(slots))  # fixed after this round
            chosen = torch.arange(keep) if left_to_right else conf.topk(keep).indices
            x[0, slots[chosen]] = tokens[chosen]
            open_[0, slots[chosen]] = False
        out = x[0, new:].tolist()
        ids += out
        left -= n
        yield from out
