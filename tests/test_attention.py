"""`tinylm attention`: maps equal to what the forward pass used, selection, rendering, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from tokenizers import Tokenizer, models

from tinylm.cli.attention import _show
from tinylm.infer.attention import attention_maps, select_map, token_labels
from tinylm.model import ModelConfig, Transformer

TINY = dict(
    vocab_size=50, block_size=16, n_layer=2, n_head=2, d_model=16, dropout=0.0, objective="causal"
)
IDS = [7, 12, 9, 30, 30, 41, 5, 18, 22, 11]


def _model(**kw) -> Transformer:
    torch.manual_seed(0)
    return Transformer(ModelConfig(**{**TINY, **kw})).eval()


def test_maps_are_distributions_causal_only_below_the_diagonal() -> None:
    T = len(IDS)
    for objective in ("causal", "masked"):
        maps = attention_maps(_model(objective=objective), IDS)
        assert maps.shape == (2, 2, T, T) and maps.dtype == torch.float32
        assert torch.allclose(maps.sum(-1), torch.ones(2, 2, T), atol=1e-5)
        above = torch.ones(T, T, dtype=torch.bool).triu(1)
        if objective == "causal":
            assert torch.all(maps[..., above] == 0)  # exactly: the future is masked, not small
        else:
            assert torch.all(maps[..., above] > 0)


@pytest.mark.parametrize("objective", ["causal", "masked"])
def test_maps_reproduce_each_layers_attention_output(objective: str) -> None:
    model = _model(objective=objective)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []  # (input x, output) of every attention
    for blk in model.blocks:
        blk.attn.register_forward_hook(lambda m, args, out: seen.append((args[0], out)))
    maps = attention_maps(model, IDS)
    assert len(seen) == len(model.blocks)
    for blk, probs, (x, out) in zip(model.blocks, maps, seen, strict=True):
        B, T, C = x.shape
        with torch.inference_mode():  # x was captured in inference mode
            v = blk.attn.qkv(x)[..., 2 * C :].view(B, T, 2, C // 2).transpose(1, 2)  # (B, H, T, D)
            y = (probs.unsqueeze(0) @ v).transpose(1, 2).reshape(B, T, C)
            assert torch.allclose(blk.attn.proj(y), out, atol=1e-5)


def test_hooks_are_removed_and_the_model_is_unchanged() -> None:
    model = _model()
    idx = torch.tensor([IDS])
    with torch.no_grad():
        before = model(idx)
    model.train()
    attention_maps(model, IDS)
    assert model.training  # the mode comes back as it was
    assert all(not blk.attn._forward_pre_hooks for blk in model.blocks)
    with pytest.raises(IndexError):  # a failing forward must not leave hooks behind either
        attention_maps(model, [999])
    assert all(not blk.attn._forward_pre_hooks for blk in model.blocks)
    with torch.no_grad():
        assert torch.equal(model.eval()(idx), before)


def test_select_map_picks_or_averages() -> None:
    maps = attention_maps(_model(), IDS)
    assert torch.equal(select_map(maps, 1, 0), maps[1, 0])
    assert torch.allclose(select_map(maps, None, None), maps.mean((0, 1)))
    assert torch.allclose(select_map(maps, 0, None), maps[0].mean(0))
    assert torch.allclose(select_map(maps, None, 1), maps[:, 1].mean(0))
    assert torch.allclose(select_map(maps, None, None).sum(-1), torch.ones(len(IDS)))
    with pytest.raises(ValueError, match="layer 2 is out of range.*2 layers, use 0 to 1"):
        select_map(maps, 2, None)
    with pytest.raises(ValueError, match="head -1 is out of range"):
        select_map(maps, None, -1)


def test_token_labels_show_whitespace_and_stay_short() -> None:
    vocab = {"[PAD]": 0, "a": 1, " ": 2, "\n": 3, "abcdefghij": 4}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[PAD]"))
    assert token_labels(tok, [1, 2, 3, 4]) == ["a", "·", "\\n", "abcde…"]


def test_color_rendering_keeps_one_line_per_row(capsys: pytest.CaptureFixture[str]) -> None:
    grid = select_map(attention_maps(_model(), IDS[:4]), None, None).tolist()
    _show(grid, ["a", "b", "c", "d"], color=True)
    lines = capsys.readouterr().out.splitlines()
    assert [ln[0] for ln in lines[1:5]] == ["a", "b", "c", "d"] and lines[5].startswith("scale")


@pytest.mark.parametrize("objective", ["causal", "masked"])
def test_plain_heatmap_end_to_end(runs: dict[str, Path], objective: str) -> None:
    r = run_cli("attention", str(runs[objective]), "Speak, speak.")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"{objective} model:")
    T = len("Speak, speak.")  # char tokenizer: one token per character
    rows = [ln for ln in lines if len(ln) == 2 + 2 * T]  # label, space, two chars per key
    assert len(rows) == T and rows[0].startswith("S ") and rows[6].startswith("· ")
    if objective == "causal":  # the first token sees only itself: all its weight, nothing else
        assert rows[0] == "S @@" + " " * (2 * T - 2)
    else:
        assert " " not in rows[0][2:]


@pytest.mark.parametrize("objective", ["causal", "masked"])
def test_json_map_is_t_by_t(runs: dict[str, Path], objective: str) -> None:
    r = run_cli("attention", str(runs[objective]), "All: Speak.", "--json", "--head", "1")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    T = len("All: Speak.")
    assert out["objective"] == objective and out["layer"] is None and out["head"] == 1
    assert len(out["tokens"]) == len(out["ids"]) == T and out["tokens"][3] == ":"
    assert len(out["map"]) == T and all(len(row) == T for row in out["map"])
    assert all(abs(sum(row) - 1) < 1e-4 for row in out["map"])


def test_long_text_is_cut_with_a_warning(runs: dict[str, Path]) -> None:
    r = run_cli("attention", str(runs["causal"]), "Speak, speak.", "--max-tokens", "5", "--json")
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["map"]) == 5
    assert "has 13 tokens; showing the first 5" in r.stderr
    r = run_cli("attention", str(runs["causal"]), "Speak, speak. " * 3, "--json")
    assert len(json.loads(r.stdout)["map"]) == 16 and "reads at most" in r.stderr


def test_png_is_written(runs: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "map.png"
    r = run_cli("attention", str(runs["masked"]), "Speak.", "--png", str(out), "--layer", "0")
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"\x89PNG") and f"Wrote {out}" in r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["map.png"]  # no temporary file left


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["Speak.", "--layer", "1"], "--layer 1 is out of range: this model has 1 layer, use 0."),
        (["Speak.", "--head", "2"], "--head 2 is out of range: this model has 2 heads, use 0 to 1"),
        ([""], "TEXT is empty"),
        (["Speak.", "--max-tokens", "1"], "--max-tokens 1 must be at least 2"),
        (["Speak.", "--png", "/nonexistent/dir/x.png"], "does not exist"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(
    runs: dict[str, Path], args: list[str], needle: str
) -> None:
    if "--png" in args:
        pytest.importorskip("matplotlib")
    r = run_cli("attention", str(runs["causal"]), *args)
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.output and r.stdout == ""
