"""Cross-objective inference: a causal model filling blanks, a masked model generating."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import run_cli

from tinylm.data.vocab import EOS_ID, MASK_ID, N_SPECIAL
from tinylm.infer.simulate import causal_fill
from tinylm.model import ModelConfig, Transformer

V = 24


def _model(objective: str) -> Transformer:
    torch.manual_seed(0)
    cfg = ModelConfig(
        V, block_size=16, n_layer=2, n_head=2, d_model=16, dropout=0.0, objective=objective
    )
    model = Transformer(cfg).eval()
    for p in model.parameters():  # sharper than the init, so rankings are not near-uniform
        p.data.normal_(0, 0.5)
    return model


@torch.no_grad()
def _brute_force(model: Transformer, seq: list[int], pos: int) -> dict[int, float]:
    """Every real token at `pos`, scored by the likelihood of the whole sequence, one by one."""
    logps = {}
    for c in range(N_SPECIAL, V):
        s = list(seq)
        s[pos] = c
        logits = model(torch.tensor([s[:-1]]))[0].log_softmax(-1)
        logps[c] = sum(float(logits[t - 1, s[t]]) for t in range(1, len(s)))
    probs = torch.tensor(list(logps.values())).softmax(0)
    return dict(zip(logps, probs.tolist(), strict=True))


def test_causal_rescoring_equals_brute_force_over_the_vocabulary() -> None:
    model = _model("causal")
    ids = [7, 9, 11, MASK_ID, 13, 8, 20, 6]
    truth = _brute_force(model, [EOS_ID, *ids], 4)
    ranked = causal_fill(model, ids, shortlist=None)[3]
    assert [t for _, t in ranked] == sorted(truth, key=truth.get, reverse=True)
    for score, token in ranked:
        assert score == pytest.approx(truth[token], abs=1e-5)
    # a shortlist keeps the exact scores, renormalised over the tokens it kept
    short = causal_fill(model, ids, shortlist=5)[3]
    kept = sum(truth[t] for _, t in short)
    assert len(short) == 5
    for score, token in short:
        assert score == pytest.approx(truth[token] / kept, abs=1e-5)


def test_causal_fill_several_masks_and_targets() -> None:
    model = _model("causal")
    ids = [7, MASK_ID, 11, 12, MASK_ID, 8]
    for joint in (False, True):
        out = causal_fill(model, ids, shortlist=6, joint=joint)
        assert sorted(out) == [1, 4]
        for ranked in out.values():
            scores = [s for s, _ in ranked]
            assert scores == sorted(scores, reverse=True) and sum(scores) <= 1 + 1e-6
            assert all(t >= N_SPECIAL for _, t in ranked)
    only = causal_fill(model, ids, candidates=[9, 10])
    assert all(sorted(t for _, t in r) == [9, 10] for r in only.values())


def test_fill_mask_on_a_causal_checkpoint_is_simulated(runs: dict[str, Path]) -> None:
    r = run_cli("fill-mask", str(runs["causal"]), "Speak, [MASK]peak.", "--json", "-k", "3")
    assert r.exit_code == 0, r.output
    assert "Simulated" in r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 3 and set(rows[0]) == {"score", "token", "token_str", "sequence"}
    r = run_cli("fill-mask", str(runs["causal"]), "x [MASK]", "--shortlist", "0")
    assert r.exit_code == 2 and "--shortlist" in r.stderr


def test_generate_on_a_masked_checkpoint_is_simulated(runs: dict[str, Path]) -> None:
    args = ["generate", str(runs["masked"]), "-p", "First", "-n", "20", "--seed", "4", "--json"]
    r = run_cli(*args)
    assert r.exit_code == 0, r.output
    assert "Simulated" in r.stderr
    out = json.loads(r.stdout)
    assert out["simulated"] is True and out["tokens"] == 20
    assert run_cli(*args).stdout == r.stdout
    r = run_cli("generate", str(runs["masked"]), "--steps", "0")
    assert r.exit_code == 2 and "--steps" in r.stderr
