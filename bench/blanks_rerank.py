"""Does a masked model fill blanks better when it reranks its candidates by pseudo-likelihood?

The causal model's simulated fill-in-the-blank reads the words after the blank by rescoring each
of 32 candidates (32 forwards a blank). This gives a masked model a comparable budget: each of its
K likeliest candidates is put in the blank and scored by log p(candidate) (weight `alpha`) plus the
log-probability of each text token within W of the blank, that token masked alone (the masked
LM's pseudo-likelihood, Salazar et al. 2020): K x 2W forwards a blank. Same 200 blanks as
`tinylm compare` on the run's val split.

    python bench/blanks_rerank.py runs/c2/masked            # K, W, alpha: 8 2 1, 16 4 1, 16 4 2
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from tinylm.data.heldout import from_run
from tinylm.data.vocab import MASK_ID, N_SPECIAL
from tinylm.infer.compare import BLANK_CONTEXT
from tinylm.infer.loading import load_for_inference
from tinylm.infer.scoring import blank_accuracy, blanks
from tinylm.model import Transformer

SETTINGS = [(8, 2, 1.0), (16, 4, 1.0), (16, 4, 2.0)]  # candidates, window, weight of the blank


@torch.inference_mode()
def reranked_top1(
    model: Transformer, windows: torch.Tensor, positions: list[int], k: int, w: int, alpha: float
) -> float:
    """Top-1 at the blanks after reranking the k likeliest candidates by neighbours' PLL."""
    hits = 0
    for row, p in zip(windows, positions, strict=True):
        x = row.clone()
        x[p] = MASK_ID
        logp = model(x[None]).float()[0, p]
        logp[:N_SPECIAL] = float("-inf")
        logp = logp.log_softmax(-1)
        cands = logp.topk(k).indices
        near = [j for j in range(p - w, p + w + 1) if j != p and 0 <= j < len(row)]
        near = torch.tensor([j for j in near if row[j] >= N_SPECIAL])
        seqs = row.repeat(k * len(near), 1)
        seqs[:, p] = cands.repeat_interleave(len(near))
        where = near.repeat(k)
        rows = torch.arange(len(seqs))
        seqs[rows, where] = MASK_ID
        pll = model(seqs).float().log_softmax(-1)[rows, where, row[where]]
        score = alpha * logp[cands] + pll.view(k, len(near)).sum(1)
        hits += int(cands[score.argmax()] == row[p])
    return hits / max(len(positions), 1)


def main() -> None:
    run = Path(sys.argv[1])
    torch.set_num_threads(2)
    ckpt, _ = load_for_inference(run, "best", torch.device("cpu"))
    held = from_run(run, ckpt.tokenizer_path, 200_000)
    windows, positions = blanks(held.ids, BLANK_CONTEXT, 200)
    print(f"{run}: native top-1 {blank_accuracy(ckpt.model, windows, positions)['top1']:.1%}")
    for k, w, alpha in SETTINGS:
        top1 = reranked_top1(ckpt.model, windows, positions, k, w, alpha)
        print(f"  {k} candidates, +-{w} tokens, weight {alpha:g}: top-1 {top1:.1%}", flush=True)


if __name__ == "__main__":
    main()
