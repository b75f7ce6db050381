"""Cross-objective inference: a causal model filling blanks, a masked model generating."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import run_cli

from tinylm.data.vocab import EOS_ID, MASK_ID, N_SPECIAL
from tinylm.infer.config import SamplingConfig
from tinylm.infer.simulate import causal_fill, mask_predict
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


def test_mask_predict_length_seed_and_controls() -> None:
    model = _model("masked")
    cfg = SamplingConfig(max_new_tokens=30, temperature=1.0)  # past one block of 16
    prompt = [7, 8, 9]

    def run(seed: int, **kw) -> list[int]:  # noqa: ANN003
        return list(mask_predict(model, prompt, cfg, torch.Generator().manual_seed(seed), **kw))

    a = run(1)
    assert len(a) == 30 and all(t >= N_SPECIAL for t in a)
    assert a == run(1) and a != run(2)
    # top-k 1 leaves one choice per slot: left to right, that is exactly greedy
    greedy = SamplingConfig(max_new_tokens=30, temperature=0.0)
    top1 = SamplingConfig(max_new_tokens=30, temperature=1.0, top_k=1)
    expect = list(mask_predict(model, prompt, greedy, left_to_right=True, rounds=4))
    got = mask_predict(model, prompt, top1, torch.Generator().manual_seed(3), 4, True)
    assert list(got) == expect
    # a strong repetition penalty changes what is chosen
    rep = SamplingConfig(max_new_tokens=30, temperature=0.0, repetition_penalty=50.0)
    assert list(mask_predict(model, prompt, rep, left_to_right=True, rounds=4)) != expect
    with pytest.raises(ValueError, match="rounds"):
        list(mask_predict(model, prompt, cfg, rounds=0))


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
    r = run_cli("generate", str(runs["masked"]), "--rounds", "0")
    assert r.exit_code == 2 and "--rounds" in r.stderr
