"""The model module: causality, attention against a naive reference, init, shapes, config,
and the configs of older checkpoints."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import run_cli

from tinylm.checkpoint import load_checkpoint
from tinylm.model import ModelConfig, Transformer, apply_rope

TINY = dict(
    vocab_size=50, block_size=16, n_layer=2, n_head=2, d_model=16, dropout=0.0, objective="causal"
)


def _model(**kw) -> Transformer:
    torch.manual_seed(0)
    return Transformer(ModelConfig(**{**TINY, **kw})).eval()


def test_causal_mode_never_sees_the_future_and_masked_mode_does() -> None:
    idx = torch.randint(5, 50, (2, 12), generator=torch.Generator().manual_seed(1))
    changed = idx.clone()
    changed[:, 7] = (changed[:, 7] + 1 - 5) % 45 + 5  # change token t + 1 = 7
    for objective in ("causal", "masked"):
        model = _model(objective=objective)
        with torch.no_grad():
            a, b = model(idx), model(changed)
        assert a.shape == (2, 12, 50)
        if objective == "causal":
            assert torch.equal(a[:, :7], b[:, :7])  # positions <= t are untouched, exactly
            assert not torch.allclose(a[:, 7:], b[:, 7:])
        else:
            assert not torch.allclose(a[:, :7], b[:, :7])  # every position sees the change


def _naive_attention(attn, x: torch.Tensor, causal: bool, rope) -> torch.Tensor:
    """Attention written out by hand: softmax(q k^T / sqrt(d)) v, with an explicit mask."""
    B, T, C = x.shape
    H = attn.n_head
    q, k, v = attn.qkv(x).split(C, dim=2)
    q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
    q, k = apply_rope(q, *rope), apply_rope(k, *rope)
    scores = q @ k.transpose(-2, -1) / math.sqrt(C // H)
    if causal:
        scores = scores.masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf"))
    y = scores.softmax(-1) @ v
    return attn.proj(y.transpose(1, 2).reshape(B, T, C))


@pytest.mark.parametrize("objective", ["causal", "masked"])
def test_sdpa_equals_naive_attention(objective: str) -> None:
    model = _model(objective=objective)
    attn = model.blocks[0].attn
    x = torch.randn(3, 10, 16)
    rope = (model.rope_cos[:10], model.rope_sin[:10])
    with torch.no_grad():
        got = attn(x, rope)
        want = _naive_attention(attn, x, objective == "causal", rope)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)


def test_exact_parameter_count() -> None:
    V, L, C, F_ = 50, 2, 16, 64
    per_block = 2 * C + 3 * C * C + C * C + C * F_ + F_ * C  # 2 norms, qkv, proj, fc, proj
    want = V * C + L * per_block + C  # tied head and rotary positions add nothing; final norm
    assert _model().num_params() == want == 7_024


def test_head_is_tied_and_there_are_no_biases() -> None:
    model = _model()
    assert model.head.weight is model.tok_emb.weight
    assert not any(name.endswith("bias") for name, _ in model.named_parameters())


@pytest.mark.parametrize("objective", ["causal", "masked"])
def test_loss_at_init_is_about_log_vocab(objective: str) -> None:
    model = _model(vocab_size=512, objective=objective)
    idx, target = torch.randint(0, 512, (2, 8, 16))
    loss = F.cross_entropy(model(idx).flatten(0, 1), target.flatten())
    assert abs(loss.item() - math.log(512)) < 0.1


def test_select_computes_the_head_only_where_asked() -> None:
    model = _model(objective="masked")
    idx = torch.randint(5, 50, (2, 8))
    select = torch.zeros(2, 8, dtype=torch.bool)
    select[0, 3] = select[1, 5] = True
    with torch.no_grad():
        full, sparse = model(idx), model(idx, select=select)
    assert sparse.shape == (2, 50)
    torch.testing.assert_close(sparse, full[select])


def test_config_validates_and_round_trips() -> None:
    cfg = ModelConfig(**{**TINY, "objective": "masked"})
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"d_model \(30\) must be divisible by n_head \(4\)"):
        ModelConfig(**{**TINY, "d_model": 30, "n_head": 4})
    with pytest.raises(ValueError, match="n_layer must be a positive integer"):
        ModelConfig(**{**TINY, "n_layer": 0})
    with pytest.raises(ValueError, match="objective must be one of"):
        ModelConfig(**{**TINY, "objective": "both"})
    with pytest.raises(ValueError, match="unknown model config keys: colour"):
        ModelConfig.from_dict({**TINY, "colour": "red"})
    with pytest.raises(ValueError, match="exceeds block_size"):
        _model()(torch.zeros(1, 17, dtype=torch.long))


# what older tinylm saved for the options it dropped (bench/arch_variants.py keeps the variants)
OLD_FIELDS = dict(norm="layernorm", mlp="gelu", pos="rope", d_ff=0, rope_base=10000.0)


def _old_checkpoint(src: Path, dst: Path, **fields) -> Path:
    """A copy of checkpoint `src` whose config.json carries the fields older tinylm saved."""
    shutil.copytree(src, dst)
    raw = json.loads((dst / "config.json").read_text())
    raw["model"].update({**OLD_FIELDS, **fields})
    (dst / "config.json").write_text(json.dumps(raw, indent=2))
    return dst


def test_old_checkpoints_with_the_removed_fields_at_defaults_load(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    src = runs["causal"] / "best"
    new = load_checkpoint(src)
    idx = torch.randint(5, new.config.vocab_size, (2, new.config.block_size))
    with torch.no_grad():
        want = new.model.eval()(idx)
        for i, fields in enumerate(({}, {"d_ff": 4 * new.config.d_model})):  # 0 or written out
            old = load_checkpoint(_old_checkpoint(src, tmp_path / str(i), **fields))
            assert old.config == new.config
            assert torch.equal(old.model.eval()(idx), want)


@pytest.mark.parametrize(
    "field, value",
    [("norm", "rmsnorm"), ("mlp", "swiglu"), ("pos", "learned"), ("d_ff", 344), ("rope_base", 5e5)],
)
def test_a_removed_architecture_is_refused_in_one_line(
    runs: dict[str, Path], tmp_path: Path, field: str, value: object
) -> None:
    ckpt = _old_checkpoint(runs["causal"] / "best", tmp_path / "old", **{field: value})
    r = run_cli("generate", str(ckpt), "-p", "x", "-n", "2")
    assert r.exit_code == 1 and "Traceback" not in r.output and r.stdout == ""
    assert f"tinylm no longer builds {field}={value!r}" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_unknown_config_keys_stay_an_error(runs: dict[str, Path], tmp_path: Path) -> None:
    ckpt = _old_checkpoint(runs["causal"] / "best", tmp_path / "old", colour="red")
    r = run_cli("generate", str(ckpt), "-p", "x", "-n", "2")
    assert r.exit_code == 1 and "unknown model config keys: colour" in r.stderr


def test_final_norm_epsilon_by_family_and_for_older_checkpoints(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    # bidirectional: next to none, so that a stock masked-LM head can reproduce it (export)
    assert _model().norm_f.eps == 1e-5
    assert _model(objective="masked").norm_f.eps == 1e-12
    assert _model(objective="diffusion", final_norm_eps=1e-5).norm_f.eps == 1e-5
    with pytest.raises(ValueError, match="final_norm_eps"):
        ModelConfig(**{**TINY, "final_norm_eps": 0.0})
    # a checkpoint written before the field existed had 1e-5 everywhere and still loads so
    dst = tmp_path / "old"
    shutil.copytree(runs["masked"] / "best", dst)
    raw = json.loads((dst / "config.json").read_text())
    del raw["model"]["final_norm_eps"]
    (dst / "config.json").write_text(json.dumps(raw, indent=2))
    assert load_checkpoint(dst).model.norm_f.eps == 1e-5
    assert load_checkpoint(runs["masked"] / "best").model.norm_f.eps == 1e-12
