"""Measures on held-out text for `tinylm eval` and `tinylm compare`, for either family.

Bits per byte: a causal model's own likelihood; a bidirectional (masked or diffusion) model's
negative ELBO, an upper bound on its negative log-likelihood estimated with a fixed seed, and,
second, its pseudo-likelihood (each position hidden in turn, read with both sides).
Fill-in-the-blank: one blank per passage at a fixed position; native for a bidirectional model,
simulated by rescoring for a causal one. Only text
tokens are scored (no [EOS]), so the two families are measured on the same tokens.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import replace

import numpy as np
import torch

from tinylm.data.tokens import fixed_windows
from tinylm.data.vocab import MASK_ID, N_SPECIAL
from tinylm.device import Runtime
from tinylm.elbo import nelbo_draws
from tinylm.infer.config import PREVIEW, SHORTLIST
from tinylm.infer.sampling import generate
from tinylm.infer.simulate import rescore_blank
from tinylm.infer.unmask import UnmaskConfig, unmask_generate
from tinylm.metrics import bits_per_byte, next_token_nll, perplexity
from tinylm.model import Transformer
from tinylm.validate import fixed_mask_sums

BATCH = 64  # rows per forward
BLANK_SEED = 4321
ELBO_DRAWS = 16  # mask draws per window: the bound's Monte-Carlo error shrinks as 1 / sqrt(draws)
ELBO_SEED = 1234


def _hidden_logits(model: Transformer, windows: torch.Tensor, positions: torch.Tensor):  # noqa: ANN202
    """Logits (N, V) at positions[i] of windows[i], that token hidden by [MASK], in batches."""
    rows = torch.arange(len(windows))
    x = windows.clone()
    x[rows, positions] = MASK_ID
    select = torch.zeros(x.shape, dtype=torch.bool)
    select[rows, positions] = True
    return torch.cat(
        [
            model(xs.to(model.device), select=ss.to(model.device)).float().cpu()
            for xs, ss in zip(x.split(BATCH), select.split(BATCH), strict=True)
        ]
    )


@torch.inference_mode()
def causal_nats(model: Transformer, ids: np.ndarray, max_tokens: int) -> tuple[float, int]:
    """Summed -log p(token | past) over up to `max_tokens` text tokens, and their count."""
    length = model.config.block_size + 1
    windows = fixed_windows(ids, length, max(1, max_tokens // (length - 1)))
    total, count = 0.0, 0
    for batch in windows.split(BATCH):
        batch = batch.to(model.device)
        target = batch[:, 1:]
        nll = next_token_nll(model(batch[:, :-1]), target, reduction="none")
        keep = target >= N_SPECIAL
        total += float(nll[keep].sum())
        count += int(keep.sum())
    return total, count


@torch.inference_mode()
def pseudo_nats(model: Transformer, ids: np.ndarray, max_tokens: int) -> tuple[float, int]:
    """Summed -log p(token | both sides), each of up to `max_tokens` text tokens masked alone.

    One forward row per scored token: `max_tokens` rows of a block each.
    """
    T = model.config.block_size
    windows = fixed_windows(ids, T, max(1, math.ceil(max_tokens / T)))
    w, t = (windows >= N_SPECIAL).nonzero()[:max_tokens].unbind(1)  # text tokens, row-major
    total = 0.0
    for ws, ts in zip(w.split(BATCH), t.split(BATCH), strict=True):  # a block of rows at a time
        logits = _hidden_logits(model, windows[ws], ts)
        total += float(next_token_nll(logits, windows[ws, ts], reduction="sum"))
    return total, len(w)


@torch.inference_mode()
def elbo_nats(
    model: Transformer, ids: np.ndarray, max_tokens: int, draws: int = ELBO_DRAWS
) -> tuple[float, float, int]:
    """The negative ELBO summed over windows of up to `max_tokens` tokens, its Monte-Carlo
    standard error, and the number of text tokens it covers (specials are never masked)."""
    T = model.config.block_size
    windows = fixed_windows(ids, T, max(1, max_tokens // T))
    g = torch.Generator().manual_seed(ELBO_SEED)
    est = torch.cat(
        [nelbo_draws(model, w.to(model.device), draws, g) for w in windows.split(BATCH)]
    )
    # each window's estimate is the mean of its draws; their spread is the estimator's noise
    se = math.sqrt(float(est.var(dim=1).sum()) / draws) if draws > 1 else float("nan")
    return float(est.mean(dim=1).sum()), se, int((windows >= N_SPECIAL).sum())


def blanks(ids: np.ndarray, length: int, n: int) -> tuple[torch.Tensor, list[int]]:
    """`n` passages of `length` tokens with one blank each, fixed by a seed: (windows, positions).

    The blank sits in the middle half of its passage, on a text token, so both sides count.
    """
    windows = fixed_windows(ids, length, n)
    g = torch.Generator().manual_seed(BLANK_SEED)
    kept, positions = [], []
    for i, w in enumerate(windows):
        choices = [t for t in range(length // 4, 3 * length // 4) if w[t] >= N_SPECIAL]
        if choices:
            kept.append(i)
            positions.append(choices[int(torch.randint(len(choices), (1,), generator=g))])
    return windows[kept], positions


@torch.inference_mode()
def blank_accuracy(
    model: Transformer, windows: torch.Tensor, positions: list[int], shortlist: int = SHORTLIST
) -> dict:
    """Top-1 and top-5 accuracy at the blanks: native (masked) or simulated (causal)."""
    top1 = top5 = 0
    started = time.perf_counter()
    if model.config.causal:
        for w, p in zip(windows.tolist(), positions, strict=True):
            ranked = [t for _, t in rescore_blank(model, w, p, shortlist)[:5]]
            top1 += ranked[:1] == [w[p]]
            top5 += w[p] in ranked
    elif positions:
        where = torch.tensor(positions, dtype=torch.long)
        logits = _hidden_logits(model, windows, where)
        logits[:, :N_SPECIAL] = float("-inf")
        best = logits.topk(5, dim=-1).indices
        target = windows[torch.arange(len(windows)), where]
        top1 = int((best[:, 0] == target).sum())
        top5 = int((best == target[:, None]).any(-1).sum())
    n = max(len(positions), 1)
    return {
        "top1": top1 / n,
        "top5": top5 / n,
        "blanks": len(positions),
        "seconds": time.perf_counter() - started,
    }


def sample(model: Transformer, prompt: list[int], n_new: int, seed: int) -> tuple[list[int], float]:
    """New tokens from a prompt and the tokens per second: next-token sampling for a causal
    model, iterative unmasking for a bidirectional one (native for diffusion, simulated for a
    BERT-style masked model)."""
    cfg = replace(PREVIEW, max_new_tokens=n_new, stop_at_eos=False)
    g = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    if model.config.causal:
        out = list(generate(model, prompt, cfg, g))
    else:
        out = list(unmask_generate(model, prompt, cfg, UnmaskConfig(), g, allow_eos=False))
    return out, len(out) / max(time.perf_counter() - started, 1e-9)


WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def known_word_share(text: str, reference: str) -> float:
    """Share of the words in `text` that occur in `reference`: a rough check of spelling."""
    known = {w.lower() for w in WORD.findall(reference)}
    words = [w.lower() for w in WORD.findall(text)]
    return sum(w in known for w in words) / len(words) if words else 0.0


def distinct_word_share(text: str) -> float:
    """Distinct words over all words: low when a sample repeats itself."""
    words = [w.lower() for w in WORD.findall(text)]
    return len(set(words)) / len(words) if words else 0.0


def measure(model: Transformer, ids: np.ndarray, bytes_per_token: float, max_tokens: int) -> dict:
    """`tinylm eval`'s figures. Causal: loss, perplexity, bits per byte. Bidirectional: CE and
    top-1 at fixed-seed 15 % masks; the ELBO bound's loss, perplexity and bits per byte with its
    standard error; the pseudo-likelihood loss and bits per byte, second."""
    if model.config.causal:
        nats, count = causal_nats(model, ids, max_tokens)
        out = {"objective": "causal", "tokens": count, "loss": nats / max(count, 1)}
        loss = nats / max(count, 1)
        out["perplexity"] = perplexity(loss)
        out["bits_per_byte"] = bits_per_byte(loss, bytes_per_token)
        return out
    T = model.config.block_size
    windows = fixed_windows(ids, T, max(1, max_tokens // T))
    fixed = _fixed_mask_figures(model, windows)
    nats, se, count = elbo_nats(model, ids, max_tokens)
    pseudo, pseudo_count = pseudo_nats(model, ids, max_tokens)
    loss = nats / max(count, 1)
    return {
        "objective": model.config.objective,
        "masked_loss": fixed["loss"],
        "masked_top1": fixed["top1"],
        "masked_tokens": fixed["count"],
        "tokens": count,
        "elbo_loss": loss,
        "perplexity": perplexity(loss),
        "bits_per_byte": bits_per_byte(loss, bytes_per_token),
        "bits_per_byte_se": bits_per_byte(se / max(count, 1), bytes_per_token),
        "pseudo_tokens": pseudo_count,
        "pseudo_loss": pseudo / max(pseudo_count, 1),
        "pseudo_bits_per_byte": bits_per_byte(pseudo / max(pseudo_count, 1), bytes_per_token),
    }


def _fixed_mask_figures(model: Transformer, windows: torch.Tensor) -> dict:
    """Cross-entropy and top-1 at the fixed-seed 15 % masks training reports (any objective)."""
    loss, count, correct = fixed_mask_sums(model, windows, Runtime(model.device, "fp32", False))
    return {"loss": loss / max(count, 1), "top1": correct / max(count, 1), "count": count}
