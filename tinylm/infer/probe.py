"""Linear probes: how much a frozen model's hidden states tell a simple classifier.

The essay behind tinylm claims bidirectional models make better representations for classifying
and comparing texts. A probe tests that on equal terms: mean-pooled hidden states of every layer,
a logistic regression cross-validated with a fixed seed, and a bag-of-words probe on the same
folds as the floor to beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tinylm.model import Transformer

FOLDS = 5
L2 = 1e-3  # ridge penalty on the probe's weights, per example
MAX_ITER = 100


@dataclass(frozen=True)
class ProbeScore:
    """Cross-validated accuracy: the mean and spread over folds."""

    mean: float
    std: float
    folds: tuple[float, ...]


@torch.no_grad()
def layer_features(model: Transformer, sequences: list[list[int]], batch: int = 32) -> torch.Tensor:
    """Mean-pooled hidden states (n_layer + 1, N, C): the embeddings, then each block's output.

    Sequences are batched with others of the same length, so no padding enters the means.
    """
    was_training = model.training
    model.eval()
    captured: list[torch.Tensor] = []
    hooks = [model.tok_emb.register_forward_hook(lambda m, i, o: captured.append(o))]
    hooks += [b.register_forward_hook(lambda m, i, o: captured.append(o)) for b in model.blocks]
    by_length: dict[int, list[int]] = {}
    for row, seq in enumerate(sequences):
        by_length.setdefault(len(seq), []).append(row)
    out = torch.zeros(len(model.blocks) + 1, len(sequences), model.config.d_model)
    try:
        for rows in by_length.values():
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                captured.clear()
                model.hidden(torch.tensor([sequences[r] for r in chunk], device=model.device))
                out[:, chunk] = torch.stack([h.float().mean(1).cpu() for h in captured])
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return out


def bag_of_words(sequences: list[list[int]], vocab_size: int) -> torch.Tensor:
    """Token frequencies (N, V) of each sequence: the floor a representation must beat."""
    out = torch.zeros(len(sequences), vocab_size)
    for row, seq in enumerate(sequences):
        out[row].index_add_(0, torch.tensor(seq), torch.ones(len(seq)))
    return out / out.sum(1, keepdim=True).clamp_min(1.0)


def _fit_predict(
    x: torch.Tensor, y: torch.Tensor, test: torch.Tensor, n_class: int
) -> torch.Tensor:
    """Multinomial logistic regression (L-BFGS, standardised features): test-set predictions."""
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    x, test = (x - mean) / std, (test - mean) / std
    w = torch.zeros(x.size(1), n_class, requires_grad=True)
    b = torch.zeros(n_class, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=MAX_ITER, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + L2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return (test @ w + b).argmax(1)


def probe_accuracy(
    features: torch.Tensor, labels: list[int], folds: int = FOLDS, seed: int = 0
) -> ProbeScore:
    """Accuracy of a linear probe on (N, F) features, k-fold cross-validated, stratified."""
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError("a probe needs at least two classes")
    y = torch.tensor([classes.index(v) for v in labels])
    g = torch.Generator().manual_seed(seed)
    fold_of = torch.empty(len(y), dtype=torch.long)
    for c in range(len(classes)):  # stratified: each class dealt round-robin over the folds
        members = (y == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=g)]
        fold_of[members] = torch.arange(len(members)) % folds
    scores = []
    for k in range(folds):
        test = fold_of == k
        if test.all() or not test.any():
            continue
        with torch.enable_grad():
            pred = _fit_predict(features[~test], y[~test], features[test], len(classes))
        scores.append(float((pred == y[test]).float().mean()))
    t = torch.tensor(scores)
    std = float(t.std()) if len(scores) > 1 else 0.0
    return ProbeScore(float(t.mean()), std, tuple(scores))


def probe_report(
    model: Transformer, sequences: list[list[int]], labels: list[int], seed: int = 0
) -> dict:
    """Per-layer probe accuracy (embeddings = layer 0), the bag-of-words floor and chance."""
    feats = layer_features(model, sequences)
    layers = [probe_accuracy(feats[k], labels, seed=seed) for k in range(feats.size(0))]
    floor = probe_accuracy(bag_of_words(sequences, model.config.vocab_size), labels, seed=seed)
    counts = [labels.count(c) for c in set(labels)]
    best = max(range(len(layers)), key=lambda k: layers[k].mean)
    return {
        "examples": len(labels),
        "classes": len(counts),
        "chance": max(counts) / len(labels),
        "bag_of_words": _score(floor),
        "layers": [_score(s) for s in layers],
        "best_layer": best,
        "best": _score(layers[best]),
    }


def _score(s: ProbeScore) -> dict:
    return {"accuracy": s.mean, "std": s.std}
