"""`tinylm compare`'s measurements: two checkpoints on the same held-out text, blanks and prompts.

Each model does both jobs, natively or simulated (tinylm.infer.simulate), and the figures say which.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from tinylm.checkpoint import Checkpoint
from tinylm.data.heldout import HeldOut, run_dir_of
from tinylm.data.tokenizer import file_sha256
from tinylm.infer.config import ROUNDS, CompareOptions
from tinylm.infer.scoring import (
    blank_accuracy,
    blanks,
    causal_nats,
    distinct_word_share,
    known_word_share,
    pseudo_nats,
    sample,
)
from tinylm.metrics import bits_per_byte

BLANK_CONTEXT = 64  # tokens per fill-in-the-blank passage (up to ~32 on each side of the blank)
SHAPE = ("n_layer", "n_head", "d_model", "block_size")


def facts(ckpt: Checkpoint) -> dict:
    """What a checkpoint is and what it cost: read from its files, nothing recomputed."""
    cfg = ckpt.config
    out = {
        "checkpoint": str(ckpt.path),
        "objective": cfg.objective,
        "parameters": ckpt.model.num_params(),
        "shape": {k: getattr(cfg, k) for k in SHAPE},
        "vocab_size": cfg.vocab_size,
        "tokenizer_sha256": file_sha256(ckpt.tokenizer_path),
    }
    out["train_tokens"], out["train_seconds"] = _spent(ckpt.path)
    run = run_dir_of(ckpt.path)
    out["run"] = str(run) if run else None
    out["run_tokens"] = _spent(run / "last")[0] if run else None
    return out


def _spent(checkpoint: Path) -> tuple[int | None, float | None]:
    """Training tokens and seconds behind a checkpoint; unknown without its trainer state."""
    try:
        s = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        return int(s["tokens"]), float(s["elapsed"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def warnings(a: dict, b: dict) -> list[str]:
    """Ways in which the two runs are not like for like."""
    out = []
    for f in (a, b):
        seen, total = f["train_tokens"], f["run_tokens"]
        if seen is not None and total is not None and seen < 0.9 * total:
            out.append(
                f"the {f['objective']} run's best checkpoint is from {seen:,} of its {total:,} "
                "training tokens: its val loss rose after that (overfitting; more text or a "
                "shorter budget would help)."
            )
    if a["objective"] == b["objective"]:
        out.append(f"both models are {a['objective']}: this compares runs, not families.")
    if a["tokenizer_sha256"] != b["tokenizer_sha256"]:
        out.append(
            "the two models use different tokenizers: blanks and prompts are cut from each "
            "one's own tokens, so per-blank figures are not paired."
        )
    if a["shape"] != b["shape"]:
        out.append(f"the models differ in size ({a['shape']} vs {b['shape']}).")
    for key, what in (("train_tokens", "training tokens"), ("train_seconds", "training time")):
        x, y = a[key], b[key]
        if x is None or y is None:
            out.append(f"the {what} of one run is unknown (no trainer_state.json).")
        elif abs(x - y) > 0.1 * max(x, y):
            unit = " s" if key == "train_seconds" else ""
            out.append(f"the runs differ in {what} ({x:,.0f}{unit} vs {y:,.0f}{unit}).")
    return out


def measure(
    ckpt: Checkpoint, tok: Tokenizer, held: HeldOut, opts: CompareOptions, blank_len: int
) -> dict:
    """Blanks, bits per byte and samples for one model, native or simulated."""
    model, causal = ckpt.model, ckpt.config.causal
    windows, positions = blanks(held.ids, blank_len, opts.blanks)
    fill = blank_accuracy(model, windows, positions, opts.shortlist)
    fill["method"] = f"simulated (rescoring {opts.shortlist})" if causal else "native"
    nats, count = (causal_nats if causal else pseudo_nats)(model, held.ids, opts.max_tokens)
    bpb = bits_per_byte(nats / max(count, 1), held.bytes_per_token)
    out = {
        "fill_mask": fill,
        "bits_per_byte": {
            "value": float(bpb),
            "tokens": count,
            "method": "native likelihood" if causal else "pseudo-likelihood",
        },
    }
    prompt_len = min(model.config.block_size // 4, 24)
    starts = np.linspace(0, len(held.ids) - prompt_len - 1, opts.samples).astype(int)
    gens, rates = [], []
    for i, s in enumerate(starts):
        prompt = held.ids[s : s + prompt_len].tolist()
        ids, rate = sample(model, prompt, opts.new_tokens, opts.seed + i)
        gens.append({"prompt": tok.decode(prompt), "text": tok.decode(ids)})
        rates.append(rate)
    generated = "\n".join(g["text"] for g in gens)
    out["generation"] = {
        "method": "native" if causal else f"simulated (mask-predict, {ROUNDS} rounds)",
        "tokens_per_second": float(np.mean(rates)),
        "known_words": known_word_share(generated, held.text),
        "distinct_words": distinct_word_share(generated),
        "samples": gens,
    }
    return out
