"""`tinylm eval` and `tinylm compare` on tiny runs trained in the test, and their measures."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SAMPLE, run_cli, train_tiny

from tinylm.data.vocab import MASK_ID, N_SPECIAL
from tinylm.infer.scoring import (
    blank_accuracy,
    blanks,
    causal_nats,
    distinct_word_share,
    known_word_share,
    pseudo_nats,
)
from tinylm.model import ModelConfig, Transformer


def _model(objective: str) -> Transformer:
    torch.manual_seed(0)
    cfg = ModelConfig(
        30, block_size=8, n_layer=1, n_head=2, d_model=16, dropout=0.0, objective=objective
    )
    return Transformer(cfg).eval()


def test_causal_nats_match_a_direct_computation() -> None:
    model = _model("causal")
    ids = np.random.default_rng(0).integers(N_SPECIAL, 30, 40)
    nats, count = causal_nats(model, ids, 16)  # two windows of 9 tokens: 16 predictions
    x = torch.from_numpy(ids[:18].astype(np.int64)).view(2, 9)
    with torch.no_grad():
        logp = model(x[:, :-1]).log_softmax(-1).gather(-1, x[:, 1:, None])
    assert count == 16 and nats == pytest.approx(-float(logp.sum()), rel=1e-5)


def test_pseudo_nats_hide_one_token_at_a_time() -> None:
    model = _model("masked")
    ids = np.random.default_rng(1).integers(N_SPECIAL, 30, 16)
    nats, count = pseudo_nats(model, ids, 8)
    expect = 0.0
    with torch.no_grad():
        for t in range(8):
            x = torch.from_numpy(ids[:8].astype(np.int64))[None].clone()
            x[0, t] = MASK_ID
            expect -= float(model(x)[0, t].log_softmax(-1)[int(ids[t])])
    assert count == 8 and nats == pytest.approx(expect, rel=1e-5)


def test_blanks_are_fixed_and_in_the_middle() -> None:
    ids = np.random.default_rng(2).integers(N_SPECIAL, 30, 400)
    w1, p1 = blanks(ids, 8, 10)
    w2, p2 = blanks(ids, 8, 10)
    assert torch.equal(w1, w2) and p1 == p2 and len(p1) == 10
    assert all(2 <= p < 6 for p in p1) and len(set(p1)) > 1
    for objective in ("causal", "masked"):
        acc = blank_accuracy(_model(objective), w1, p1, shortlist=5)
        assert 0.0 <= acc["top1"] <= acc["top5"] <= 1.0 and acc["blanks"] == 10


def test_known_word_share() -> None:
    assert known_word_share("To be or nott", "to be, or not to be") == 0.75
    assert known_word_share("", "anything") == 0.0
    assert distinct_word_share("to be or not to be") == 4 / 6


def test_eval_both_families(runs: dict[str, Path], tmp_path: Path) -> None:
    r = run_cli("eval", str(runs["causal"]), "--json", "--max-tokens", "256")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["objective"] == "causal" and out["tokens"] > 0
    assert out["perplexity"] == pytest.approx(math.exp(out["loss"]))
    assert out["text"].startswith("val split of")
    text = tmp_path / "held.txt"
    text.write_text(SAMPLE[:2000], encoding="utf-8")
    r = run_cli("eval", str(runs["masked"]), str(text), "--json", "--max-tokens", "128")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["objective"] == "masked" and out["tokens"] == 128
    assert 0.0 <= out["masked_top1"] <= 1.0 and out["bits_per_byte"] > 0
    r = run_cli("eval", str(runs["masked"]), "--max-tokens", "64")
    assert r.exit_code == 0 and "pseudo-likelihood" in r.stdout


def test_eval_errors(runs: dict[str, Path], tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    r = run_cli("eval", str(runs["causal"]), str(empty))
    assert r.exit_code == 1 and "no text" in r.stderr  # the data: exit 1
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"abc \xff")
    r = run_cli("eval", str(runs["causal"]), str(bad))
    assert r.exit_code == 1 and "UTF-8" in r.stderr and "Traceback" not in r.output
    r = run_cli("eval", str(runs["causal"] / "best"), "--max-tokens", "1")
    assert r.exit_code == 2 and "--max-tokens" in r.stderr


def test_compare_two_runs_json(runs: dict[str, Path]) -> None:
    args = ["compare", str(runs["causal"]), str(runs["masked"]), "--json"]
    small = ["--blanks", "6", "--max-tokens", "64", "--samples", "2", "--new-tokens", "8"]
    r = run_cli(*args, *small)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    causal, masked = report["runs"]
    assert causal["fill_mask"]["method"].startswith("simulated")
    assert masked["fill_mask"]["method"] == "native"
    assert masked["bits_per_byte"]["method"] == "ELBO bound" and masked["bits_per_byte"]["se"] > 0
    assert masked["bits_per_byte"]["pseudo"] > 0 and "se" not in causal["bits_per_byte"]
    assert masked["generation"]["method"].startswith("simulated")
    assert causal["fill_mask"]["blanks"] == masked["fill_mask"]["blanks"] == 6
    assert [len(r["generation"]["samples"]) for r in report["runs"]] == [2, 2]
    assert causal["parameters"] == masked["parameters"] and causal["train_tokens"] > 0
    assert not any("tokenizers" in w or "size" in w or "tokens" in w for w in report["warnings"])
    again = json.loads(run_cli(*args, *small).stdout)["runs"]
    assert [r["generation"]["samples"] for r in again] == [
        causal["generation"]["samples"],
        masked["generation"]["samples"],
    ]
    assert again[0]["fill_mask"]["top5"] == causal["fill_mask"]["top5"]
    r = run_cli("compare", str(runs["causal"]), *small)
    assert r.exit_code == 2 and "two or three runs" in r.stderr
    r = run_cli("compare", str(runs["causal"]), str(runs["causal"]), *small)
    assert r.exit_code == 0 and "not families" in r.stdout


def test_more_blanks_move_neither_the_prompts_nor_the_probe(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    rng = random.Random(0)
    lines = [line for line in SAMPLE.splitlines() if line]
    text = tmp_path / "held.txt"
    text.write_text("\n".join(rng.choice(lines) for _ in range(400)), encoding="utf-8")
    common = [str(runs["causal"]), str(runs["masked"]), str(text), "--json"]
    common += ["--samples", "3", "--new-tokens", "4"]
    few = json.loads(run_cli("compare", *common, "--blanks", "6").stdout)
    many = json.loads(run_cli("compare", *common, "--blanks", "300", "--max-tokens", "4000").stdout)
    for a, b in zip(few["runs"], many["runs"], strict=True):
        assert (a["fill_mask"]["blanks"], b["fill_mask"]["blanks"]) == (6, 300)
        assert a["generation"]["samples"] == b["generation"]["samples"]
        assert a["probe"] == b["probe"]
    assert few["judge"] == many["judge"]


def test_compare_train_runs_both_and_compares(token_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    r = run_cli(
        "compare", "--train", str(token_dir), "--time", "2s", "--out", str(out),
        "--blanks", "4", "--max-tokens", "32", "--samples", "1", "--new-tokens", "4", "--json",
        "--families", "diffusion,causal",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    objectives = [run["objective"] for run in json.loads(r.stdout)["runs"]]
    assert objectives == ["diffusion", "causal"]
    assert (out / "causal" / "best").is_dir() and (out / "diffusion" / "best").is_dir()
    r = run_cli("compare", "--train", str(token_dir), "--out", str(out))
    assert r.exit_code == 2 and "already exists" in r.stderr


def test_compare_three_families(runs: dict[str, Path]) -> None:
    args = [str(runs[f]) for f in ("causal", "masked", "diffusion")]
    small = ["--blanks", "6", "--max-tokens", "64", "--samples", "2", "--new-tokens", "40"]
    r = run_cli("compare", *args, *small, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    causal, masked, diffusion = report["runs"]
    assert diffusion["generation"]["method"] == "native (iterative unmasking)"
    assert masked["generation"]["method"].startswith("simulated")
    assert diffusion["bits_per_byte"]["method"] == "ELBO bound"
    assert report["judge"]["real_text_perplexity"] > 1
    for run in report["runs"]:
        assert run["generation"]["judge_perplexity"] > 1
        assert 0 <= run["generation"]["distinct_2"] <= 1  # 40 characters: a few words
        assert run["probe"]["task"] == "order" and len(run["probe"]["layers"]) == 2
    table = run_cli("compare", *args, *small)
    assert table.exit_code == 0 and "judge perplexity of samples" in table.stdout


@pytest.mark.parametrize("families", ["causal", "causal,causal", "causal,gpt", "a,b,c,d"])
def test_compare_families_must_be_two_or_three_distinct(families: str) -> None:
    r = run_cli("compare", "--train", "--families", families)
    assert r.exit_code == 2 and "two or three distinct families" in r.stderr


def test_compare_warnings_name_what_is_not_like_for_like() -> None:
    from tinylm.infer.compare import warnings

    base = {
        "objective": "causal",
        "tokenizer_sha256": "a",
        "shape": {"n_layer": 4},
        "train_tokens": 1000,
        "train_seconds": 60.0,
        "run_tokens": 1000,
    }
    other = {**base, "objective": "masked"}
    assert warnings([base, other]) == []
    early = {**base, "train_tokens": 300, "run_tokens": 1000}
    told = warnings([early, {**other, "tokenizer_sha256": "b", "shape": {"n_layer": 6}}])
    assert any("overfitting" in w for w in told)
    assert any("tokenizers" in w for w in told) and any("size" in w for w in told)
    assert any("training tokens" in w for w in told)
    assert any("not families" in w for w in warnings([base, base]))


def test_eval_bad_inputs(runs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    r = run_cli("eval", str(runs["causal"]), str(tmp_path / "missing.txt"))
    assert r.exit_code == 2 and "does not exist" in r.stderr
    short = tmp_path / "short.txt"
    short.write_text("Speak.", encoding="utf-8")
    r = run_cli("eval", str(runs["causal"]), str(short))
    assert r.exit_code == 1 and "fewer than one window" in r.stderr
    loose = tmp_path / "loose"  # a checkpoint outside any run: no val split to fall back on
    shutil.copytree(runs["causal"] / "best", loose)
    r = run_cli("eval", str(loose))
    assert r.exit_code == 2 and "give the text to evaluate on" in r.stderr
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--blanks", "0"], "'--blanks': 0 is not in the range x>=1"),
        (["--new-tokens", "0"], "'--new-tokens': 0 is out of range; use 1 to 1,000,000"),
    ],
)
def test_compare_bad_options(runs: dict[str, Path], args: list[str], needle: str) -> None:
    r = run_cli("compare", str(runs["causal"]), str(runs["masked"]), *args)
    assert r.exit_code == 2 and needle in r.stderr and "Traceback" not in r.output


def test_compare_train_bad_inputs_touch_nothing(token_dir: Path, tmp_path: Path) -> None:
    r = run_cli("compare", "--train", str(token_dir), str(token_dir), "--out", str(tmp_path / "x"))
    assert r.exit_code == 2 and "at most one DATA" in r.stderr
    assert not (tmp_path / "x").exists()
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = run_cli("compare", "--train", str(token_dir), "--out", str(out))
    assert r.exit_code == 2 and "already exists" in r.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_compare_needs_text_when_tokenizers_differ(runs: dict[str, Path], tmp_path: Path) -> None:
    src = tmp_path / "corpus.txt"
    src.write_text(SAMPLE * 3, encoding="utf-8")
    r = run_cli("tokenize", str(src), "-o", str(tmp_path / "tok"), "--kind", "byte", "-q")
    assert r.exit_code == 0, r.output
    other = train_tiny(tmp_path / "tok", tmp_path / "bytes", 1, "--objective", "masked")
    r = run_cli("compare", str(runs["causal"]), str(other))
    assert r.exit_code == 2 and "give TEXT" in r.stderr
    small = ["--blanks", "3", "--max-tokens", "32", "--samples", "1", "--new-tokens", "4"]
    r = run_cli("compare", str(runs["causal"]), str(other), str(src), *small, "--json")
    assert r.exit_code == 0, r.output
    assert any("different tokenizers" in w for w in json.loads(r.stdout)["warnings"])
