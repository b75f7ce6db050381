"""tinylm export: the tiny runs load in stock transformers classes and compute what tinylm does
(logits, greedy tokens, fill-mask candidates), with AutoTokenizer, a model card and GGUF."""

from __future__ import annotations

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers reads it: these tests never download

from pathlib import Path

import pytest
import torch
import transformers
from conftest import run_cli, tiny_model
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer, pipeline

from tinylm.checkpoint import save_checkpoint
from tinylm.data.vocab import EOS_ID, N_SPECIAL
from tinylm.infer.config import SamplingConfig
from tinylm.infer.loading import load_for_inference
from tinylm.infer.sampling import generate

transformers.logging.set_verbosity_error()
FAMILIES = ("causal", "masked", "diffusion")
TEXTS = ("Speak, [MASK]peak.", "All: [MASK]peak.", "First [MASK]itizen", "[MASK]ll: sp[MASK]ak")


@pytest.fixture(scope="module")
def exported(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each tiny run exported once, through the command."""
    root = tmp_path_factory.mktemp("exported")
    for family in FAMILIES:
        r = run_cli("export", str(runs[family]), "--out", str(root / family))
        assert r.exit_code == 0, r.output
        assert r.stderr == "", r.stderr  # exact: no warning
    return {family: root / family for family in FAMILIES}


def _tinylm(run: Path):  # noqa: ANN202
    ckpt, tok = load_for_inference(run, "best", torch.device("cpu"))
    return ckpt.model, tok


def _probe(vocab_size: int, length: int) -> torch.Tensor:
    return torch.randint(0, vocab_size, (3, length), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("family", FAMILIES)
def test_logits_equal_tinylm(runs: dict[str, Path], exported: dict[str, Path], family: str) -> None:
    model, _ = _tinylm(runs[family])
    auto = AutoModelForCausalLM if family == "causal" else AutoModelForMaskedLM
    hf = auto.from_pretrained(exported[family]).eval()
    expected = "GPTNeoXForCausalLM" if family == "causal" else "EsmForMaskedLM"
    assert type(hf).__name__ == expected
    ids = _probe(model.config.vocab_size, model.config.block_size)
    with torch.no_grad():
        ours, theirs = model(ids), hf(ids).logits
    assert (ours - theirs).abs().max() < 1e-5
    assert ours.abs().max() > 0.1  # a real comparison, not of two near-zero tensors


@pytest.fixture(scope="module")
def varied(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A causal checkpoint whose greedy samples vary (the 3-step run repeats one token): seeded
    random weights, the blocks' matrices scaled up; and its export."""
    root = tmp_path_factory.mktemp("varied")
    model = tiny_model(38, 16, "causal")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("blocks.") and ".norm" not in name:
                p.mul_(20.0)
    save_checkpoint(root / "ckpt", model, runs["causal"] / "best" / "tokenizer.json")
    r = run_cli("export", str(root / "ckpt"), "--out", str(root / "hf"))
    assert r.exit_code == 0, r.output
    return root / "ckpt", root / "hf"


@pytest.mark.parametrize("prompt", ["All:\n", ""])
def test_greedy_generate_equals_tinylm(varied: tuple[Path, Path], prompt: str) -> None:
    """model.generate greedy gives the tokens of `tinylm generate -t 0`, from a prompt and from
    a new document (both start after an [EOS] there)."""
    ckpt, out = varied
    model, tok = _tinylm(ckpt)
    hf_tok = AutoTokenizer.from_pretrained(out)
    hf = AutoModelForCausalLM.from_pretrained(out).eval()
    ids = tok.encode(prompt, add_special_tokens=False).ids
    n = model.config.block_size - max(len(ids), 1)  # within the context: no window slides
    cfg = SamplingConfig(max_new_tokens=n, temperature=0.0, stop_at_eos=False)
    ours = list(generate(model, ids, cfg))
    inputs = hf_tok(prompt, return_tensors="pt").input_ids if prompt else None
    new = hf.generate(inputs, max_new_tokens=n, do_sample=False, eos_token_id=None)
    new = new[0, len(ids) if prompt else 1 :]  # with no prompt, generate starts from [EOS]
    assert new.tolist() == ours
    assert len(set(ours)) > 3
    r = run_cli("generate", str(ckpt), "-p", prompt, "-t", "0", "-n", str(n), "--json")
    cut = ours.index(EOS_ID) if EOS_ID in ours else n  # the command stops at an [EOS]
    assert json.loads(r.stdout)["text"] == hf_tok.decode(new[:cut], skip_special_tokens=True)


@pytest.mark.parametrize("family", ["masked", "diffusion"])
def test_fill_mask_pipeline_equals_tinylm(
    runs: dict[str, Path], exported: dict[str, Path], tmp_path: Path, family: str
) -> None:
    """The same top-5 tokens and scores as `tinylm fill-mask --json`, once the pipeline ranks
    what tinylm ranks: tinylm never fills a blank with a control token, so `targets` names the
    rest of the vocabulary; the scores are the same full-vocabulary probabilities."""
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    r = run_cli("fill-mask", str(runs[family]), "--input-file", str(texts), "--json")
    assert r.exit_code == 0, r.output
    ours = [json.loads(line) for line in r.stdout.splitlines()]
    fill = pipeline("fill-mask", model=str(exported[family]))
    words = [t for t, i in fill.tokenizer.get_vocab().items() if i >= N_SPECIAL]
    theirs = fill(list(TEXTS), targets=words, top_k=5)
    plain = fill(list(TEXTS), top_k=5)
    for mine, hf, untargeted in zip(ours, theirs, plain, strict=True):
        for a, b, c in zip(_per_mask(mine), _per_mask(hf), _per_mask(untargeted), strict=True):
            assert [x["token"] for x in a] == [x["token"] for x in b]
            assert [x["token_str"] for x in a] == [x["token_str"] for x in b]
            assert [x["sequence"] for x in a] == [x["sequence"] for x in b]
            assert max(abs(x["score"] - y["score"]) for x, y in zip(a, b, strict=True)) < 1e-5
            kept = [x["token"] for x in c if x["token"] >= N_SPECIAL]  # without targets
            assert kept == [x["token"] for x in a][: len(kept)]


def _per_mask(result: list) -> list[list[dict]]:
    """The fill-mask pipeline's shape (a list of candidates for one mask, a list of such lists
    for several) as a list per mask."""
    return [result] if isinstance(result[0], dict) else result


def test_text_generation_pipeline_runs(exported: dict[str, Path]) -> None:
    gen = pipeline("text-generation", model=str(exported["causal"]))
    out = gen("All:", max_new_tokens=4, do_sample=False)[0]["generated_text"]
    assert out.startswith("All:") and len(out) > len("All:")
