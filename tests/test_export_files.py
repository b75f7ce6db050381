"""tinylm export's files: AutoTokenizer for every tokenizer kind, the model card and
generation_config.json, and the GGUF file read back with llama.cpp's own reader."""

from __future__ import annotations

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers reads it: these tests never download

from pathlib import Path

import gguf
import pytest
import torch
import transformers
import yaml
from conftest import SAMPLE, run_cli, tiny_model
from transformers import AutoConfig, AutoTokenizer, GenerationConfig

from tinylm.checkpoint import save_checkpoint
from tinylm.data.tokenizer import build_tokenizer
from tinylm.data.vocab import EOS_ID, KINDS, MASK_ID, PAD_ID
from tinylm.export.tokenizer_files import write_tokenizer_files
from tinylm.infer.fill_mask import encode_masked
from tinylm.infer.loading import encode_text

transformers.logging.set_verbosity_error()
VOCAB = {"bpe": 300, "wordpiece": 200, "unigram": 120, "char": 0, "byte": 261}
TEXT = "First Citizen:\nBefore we proceed any further, hear me speak."


def _tokenizer(kind: str):  # noqa: ANN202
    return build_tokenizer(kind, [SAMPLE], VOCAB[kind], 2, set(SAMPLE))


@pytest.mark.parametrize("kind", KINDS)
def test_auto_tokenizer_encodes_and_decodes_as_tinylm(tmp_path: Path, kind: str) -> None:
    tok = _tokenizer(kind)
    write_tokenizer_files(tok, tmp_path, 64, causal=True)
    hf = AutoTokenizer.from_pretrained(tmp_path)
    assert hf.is_fast
    named = (hf.mask_token, hf.eos_token, hf.pad_token, hf.bos_token)
    assert named == ("[MASK]", "[EOS]", "[PAD]", "[EOS]")
    assert (hf.mask_token_id, hf.eos_token_id, hf.pad_token_id) == (MASK_ID, EOS_ID, PAD_ID)
    ids = hf(TEXT).input_ids
    assert ids == encode_text(tok, TEXT)[0]  # nothing added before or after
    assert hf.decode(ids) == tok.decode(ids)
    if kind != "wordpiece":  # WordPiece splits off punctuation: "Citizen :" both ways
        assert hf.decode(ids) == TEXT
    masked = "Speak, speak, [MASK] you are all resolved."
    assert hf(masked).input_ids == encode_masked(tok, masked, 64)  # as tinylm fill-mask reads it


@pytest.fixture(scope="module")
def exported(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cards")
    for family, extra in (("causal", ()), ("masked", ()), ("diffusion", ("--license", "mit"))):
        r = run_cli("export", str(runs[family]), "-o", str(root / family), *extra)
        assert r.exit_code == 0, r.output
    return {family: root / family for family in ("causal", "masked", "diffusion")}


def _card(out: Path) -> tuple[dict, str]:
    _, front, body = (out / "README.md").read_text(encoding="utf-8").split("---\n", 2)
    return yaml.safe_load(front), body


def _best_val(run: Path) -> float:
    step = json.loads((run / "best" / "trainer_state.json").read_text())["step"]
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [e for e in events if e["event"] == "eval" and e["step"] == step][-1]["val_loss"]


@pytest.mark.parametrize("family", ["causal", "masked", "diffusion"])
def test_model_card_and_configs(
    runs: dict[str, Path], exported: dict[str, Path], family: str
) -> None:
    out = exported[family]
    meta, body = _card(out)
    assert meta["library_name"] == "transformers"
    assert meta["pipeline_tag"] == ("text-generation" if family == "causal" else "fill-mask")
    assert meta["license"] == ("mit" if family == "diffusion" else "other")
    assert ("license_name" in meta) == (family != "diffusion")
    assert {"tinylm", f"tinylm-{family}"} <= set(meta["tags"])
    result = meta["model-index"][0]["results"][0]
    loss = [m for m in result["metrics"] if m["type"] == "loss"][0]["value"]
    assert loss == round(_best_val(runs[family]), 4)
    assert "`corpus.txt` (8,880 bytes)" in body  # the source in meta.json, by name only
    assert ("every mask rate" in body and "tinylm generate" in body) == (family == "diffusion")
    config = AutoConfig.from_pretrained(out)
    assert config.model_type == ("gpt_neox" if family == "causal" else "esm")
    assert (out / "generation_config.json").exists() == (family == "causal")
    assert not [p for p in out.iterdir() if p.suffix not in (".json", ".md", ".safetensors")]
    if family == "causal":
        gen = GenerationConfig.from_pretrained(out)
        assert (gen.bos_token_id, gen.eos_token_id, gen.do_sample) == (EOS_ID, EOS_ID, True)
        assert (gen.temperature, gen.top_k) == (0.8, 0)  # tinylm generate's defaults


@pytest.fixture(scope="module")
def bpe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A causal checkpoint with a byte-level BPE tokenizer (random weights suffice here)."""
    root = tmp_path_factory.mktemp("bpe")
    tok = _tokenizer("bpe")
    tok.save(str(root / "tokenizer.json"))
    save_checkpoint(root / "ckpt", tiny_model(300, 16, "causal"), root / "tokenizer.json")
    return root / "ckpt"


def test_gguf_holds_the_model_and_its_tokenizer(bpe_run: Path, tmp_path: Path) -> None:
    r = run_cli("export", str(bpe_run), "-o", str(tmp_path / "g"), "--format", "gguf")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["README.md", "model.gguf"]
    reader = gguf.GGUFReader(tmp_path / "g" / "model.gguf")

    def field(name: str):  # noqa: ANN202
        return reader.fields[name].contents()

    assert field("general.architecture") == "gptneox"
    assert field("gptneox.use_parallel_residual") is False
    assert field("tokenizer.ggml.model") == "gpt2"
    spec = json.loads((bpe_run / "tokenizer.json").read_text())
    assert len(field("tokenizer.ggml.tokens")) == 300
    assert len(field("tokenizer.ggml.merges")) == len(spec["model"]["merges"])
    assert field("tokenizer.ggml.eos_token_id") == EOS_ID
    model = tiny_model(300, 16, "causal")  # the same seeded weights
    tensors = {t.name: torch.from_numpy(t.data.copy()) for t in reader.tensors}
    assert torch.equal(tensors["token_embd.weight"], model.tok_emb.weight.detach())
    qkv = model.blocks[1].attn.qkv.weight.detach()  # llama.cpp reads tinylm's own qkv layout
    assert torch.equal(tensors["blk.1.attn_qkv.weight"], qkv)
    assert not tensors["blk.1.attn_qkv.bias"].any()
    meta, _ = _card(tmp_path / "g")
    assert "gguf" in meta["tags"] and "library_name" not in meta


@pytest.mark.parametrize(
    ("family", "needle"), [("masked", "causal models only"), ("causal", "byte-level BPE")]
)
def test_gguf_refuses_what_llama_cpp_cannot_hold(
    runs: dict[str, Path], tmp_path: Path, family: str, needle: str
) -> None:
    r = run_cli("export", str(runs[family]), "-o", str(tmp_path / "g"), "--format", "gguf")
    assert r.exit_code == 2 and needle in r.stderr and r.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no directory, no temporary
