"""Sampling filters as pure functions, and generation: seeds, EOS, KV cache against no cache."""

from __future__ import annotations

import pytest
import torch

from tinylm.infer import decode
from tinylm.infer.config import SamplingConfig
from tinylm.infer.decode import Decoder
from tinylm.infer.sampling import (
    generate,
    min_p_filter,
    next_token,
    repetition_penalty,
    top_k_filter,
    top_p_filter,
)
from tinylm.model import KVCache, ModelConfig, Transformer

INF = float("-inf")


def test_top_k_keeps_exactly_k_even_with_ties() -> None:
    logits = torch.tensor([1.0, 3.0, 3.0, 3.0, 0.5])
    out = top_k_filter(logits, 2)
    assert int(torch.isfinite(out).sum()) == 2  # exactly k, though three logits tie
    assert sorted(out[torch.isfinite(out)].tolist()) == [3.0, 3.0]
    assert out[0] == INF and out[4] == INF
    assert torch.equal(top_k_filter(logits, 0), logits)
    assert torch.equal(top_k_filter(logits, 9), logits)


def test_top_p_keeps_the_smallest_nucleus() -> None:
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log()
    assert torch.isfinite(top_p_filter(logits, 0.5)).tolist() == [True, False, False, False]
    assert torch.isfinite(top_p_filter(logits, 0.6)).tolist() == [True, True, False, False]
    assert torch.isfinite(top_p_filter(logits, 0.95)).tolist() == [True, True, True, False]
    assert torch.isfinite(top_p_filter(logits, 0.01)).tolist() == [True, False, False, False]
    shuffled = logits[[2, 0, 3, 1]]  # order does not matter
    assert torch.isfinite(top_p_filter(shuffled, 0.6)).tolist() == [False, True, False, True]


def test_min_p_drops_tokens_below_a_share_of_the_best() -> None:
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()
    assert torch.isfinite(min_p_filter(logits, 0.2)).tolist() == [True, True, True, False]
    assert torch.isfinite(min_p_filter(logits, 0.5)).tolist() == [True, True, False, False]


def test_repetition_penalty_is_ctrl_style() -> None:
    logits = torch.tensor([2.0, -1.0, 4.0, 0.5])
    out = repetition_penalty(logits, [0, 1, 1], 2.0)
    assert out.tolist() == [1.0, -2.0, 4.0, 0.5]
    assert torch.equal(repetition_penalty(logits, [0], 1.0), logits)


def test_sampling_config_validates() -> None:
    for bad in (
        dict(temperature=-1),
        dict(top_p=0.0),
        dict(top_k=-3),
        dict(min_p=1.0),
        dict(repetition_penalty=0.0),
        dict(max_new_tokens=-1),
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SamplingConfig(**bad)


def test_greedy_and_temperature_choice() -> None:
    logits = torch.tensor([0.1, 2.0, 1.9])
    assert next_token(logits, [], SamplingConfig(temperature=0), None) == 1
    g = torch.Generator().manual_seed(0)
    draws = {next_token(logits, [], SamplingConfig(top_k=1), g) for _ in range(20)}
    assert draws == {1}


def _model(block: int = 16) -> Transformer:
    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=40,
        block_size=block,
        n_layer=2,
        n_head=2,
        d_model=16,
        dropout=0.0,
        objective="causal",
    )
    return Transformer(cfg).eval()


def test_kv_cache_equals_no_cache_greedy_past_the_block() -> None:
    model = _model()
    cfg = SamplingConfig(max_new_tokens=40, temperature=0, stop_at_eos=False)  # 2.5 blocks
    prompt = [7, 8, 9, 10, 11]
    cached = list(generate(model, prompt, cfg, use_cache=True))
    plain = list(generate(model, prompt, cfg, use_cache=False))
    assert len(cached) == 40
    assert cached == plain


def test_kv_cache_logits_match_full_forward() -> None:
    model = _model()
    ids = torch.randint(5, 40, (1, 12), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = model(ids)
        cache = KVCache(model.config.n_layer, 16)
        steps = [model(ids[:, :5], cache=cache)[:, -1]]
        steps += [model(ids[:, t : t + 1], cache=cache)[:, -1] for t in range(5, 12)]
    torch.testing.assert_close(torch.stack(steps, 1), full[:, 4:], atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="one token at a time"):
        model(ids[:, :2], cache=cache)


@pytest.mark.parametrize("fold", [True, False])
def test_fast_decoder_matches_the_modules(fold: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "FOLD_MAX_WIDTH", 1024 if fold else 0)  # both RoPE paths
    torch.manual_seed(1)
    cfg = ModelConfig(
        vocab_size=40,
        block_size=16,
        n_layer=2,
        n_head=2,
        d_model=16,
        dropout=0.0,
        objective="causal",
    )
    model = Transformer(cfg).eval()
    for p in model.parameters():  # beyond the init's tiny weights, so differences would show
        p.data.normal_(0, 0.3)
    ids = torch.randint(5, 40, (1, 16), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = model(ids)
        cache = KVCache(cfg.n_layer, 16)
        model(ids[:, :3], cache=cache)
        decoder = Decoder(model)
        steps = [decoder.step(int(ids[0, t]), cache) for t in range(3, 16)]
    torch.testing.assert_close(torch.stack(steps), full[0, 3:], atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="full"):
        decoder.step(5, cache)


def test_same_seed_same_sample_and_eos_stops() -> None:
    model = _model()
    cfg = SamplingConfig(max_new_tokens=30, temperature=1.0, top_p=0.9)

    def run(seed: int) -> list[int]:
        return list(generate(model, [5, 6], cfg, torch.Generator().manual_seed(seed)))

    assert run(1) == run(1)
    assert run(1) != run(2)
    with torch.no_grad():  # point [EOS]'s (tied) embedding along the prompt's final hidden state
        h = model.hidden(torch.tensor([[5]]))[0, -1]
        model.tok_emb.weight[3] = 100 * h / h.norm()
    greedy = SamplingConfig(max_new_tokens=10, temperature=0)
    assert list(generate(model, [5], greedy)) == []
    assert (
        len(
            list(
                generate(
                    model, [5], SamplingConfig(max_new_tokens=10, temperature=0, stop_at_eos=False)
                )
            )
        )
        == 10
    )
    with torch.no_grad():
        assert int(model(torch.tensor([[5]]))[0, -1].argmax()) == 3
