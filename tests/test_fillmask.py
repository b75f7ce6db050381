"""`tinylm fill-mask` from a masked checkpoint trained in the test: shapes, ranks, modes, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import run_cli

from tinylm.data.vocab import MASK_ID
from tinylm.infer.fill_mask import encode_masked, fill_mask
from tinylm.infer.loading import load_for_inference


@pytest.fixture
def masked_run(runs: dict[str, Path]) -> Path:
    return runs["masked"]


def test_one_mask_json_is_hf_shaped_and_ranked(masked_run: Path) -> None:
    r = run_cli("fill-mask", str(masked_run), "Speak, [MASK]peak.", "--json", "-k", "4")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert isinstance(rows, list) and len(rows) == 4
    assert set(rows[0]) == {"score", "token", "token_str", "sequence"}
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores, reverse=True) and sum(scores) <= 1.0 + 1e-6
    assert all(row["token"] >= 5 for row in rows)  # never a special token
    for row in rows:
        assert row["sequence"] == f"Speak, {row['token_str']}peak."


def test_several_masks_give_a_list_per_mask(masked_run: Path) -> None:
    r = run_cli("fill-mask", str(masked_run), "[MASK]ll: <mask>peak.", "--json")
    rows = json.loads(r.stdout)
    assert len(rows) == 2 and all(len(c) == 5 for c in rows)


def test_targets_restrict_candidates(masked_run: Path) -> None:
    r = run_cli("fill-mask", str(masked_run), "Speak, [MASK]peak.", "--json", "--targets", "s,t,Z")
    rows = json.loads(r.stdout)
    assert sorted(row["token_str"] for row in rows) == ["s", "t"]
    assert "'Z' is not in the vocabulary" in r.stderr


def test_joint_fills_the_surest_mask_first(masked_run: Path) -> None:
    ckpt, tok = load_for_inference(masked_run, "best", torch.device("cpu"))
    ids = encode_masked(tok, "Fir[MASK]t Citi[MASK]en:", ckpt.config.block_size)
    independent = fill_mask(ckpt.model, tok, ids, top_k=3)
    joint = fill_mask(ckpt.model, tok, ids, top_k=3, joint=True)
    assert len(joint) == 2
    surest = max(range(2), key=lambda i: independent[i][0].score)
    assert joint[surest] == independent[surest]  # the first fill sees the same text
    other = 1 - surest
    filled = list(ids)
    filled[[i for i, t in enumerate(ids) if t == MASK_ID][surest]] = independent[surest][0].token
    rerun = fill_mask(ckpt.model, tok, filled, top_k=3)
    assert [c.token for c in joint[other]] == [c.token for c in rerun[0]]


def test_batch_mode_json_lines(masked_run: Path, tmp_path: Path) -> None:
    f = tmp_path / "in.txt"
    f.write_text("Speak, [MASK]peak.\n\n[MASK]ou are all.\n", encoding="utf-8")
    r = run_cli("fill-mask", str(masked_run), "--input-file", str(f), "--json", "-k", "2")
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and all(len(json.loads(line)) == 2 for line in lines)
    r = run_cli("fill-mask", str(masked_run), "--input-file", "-", input="Speak, [MASK]peak.\n")
    assert r.exit_code == 0 and r.stdout.startswith("mask 1:")


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["no blanks here"], 2, "no [MASK]"),
        (["[MASK]", "-k", "0"], 2, "'--top-k': 0 is not in the range x>=1"),
        ([], 2, "give TEXT or --input-file"),
        (["[MASK]" * 40], 2, "reads at most 16"),
        (["--input-file", "/nonexistent/in.txt"], 2, "does not exist"),
    ],
)
def test_fill_mask_errors(masked_run: Path, args: list[str], code: int, needle: str) -> None:
    r = run_cli("fill-mask", str(masked_run), *args)
    assert r.exit_code == code, r.output
    assert needle in r.stderr and "Traceback" not in r.output
