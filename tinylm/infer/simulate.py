"""Cross-objective inference, always labelled as simulated: each family doing the other's job.

A causal model fills a blank by scoring whole completed sequences: the left context picks a
shortlist (its next-token distribution at the blank) and the right context reranks it, since
every later token's likelihood depends on the choice. Cost: one forward of the sequence per
candidate, `shortlist` times a masked model's single forward.

A masked model generates on the diffusion sampler (tinylm.infer.unmask), labelled simulated:
it was never trained on the mostly-masked inputs that sampler starts from.
"""

from __future__ import annotations

import torch

from tinylm.data.vocab import EOS_ID, MASK_ID, N_SPECIAL
from tinylm.infer.config import SHORTLIST
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
