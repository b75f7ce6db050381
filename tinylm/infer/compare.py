"""`tinylm compare`'s measurements: two or three checkpoints on the same text, blanks and prompts.

Each model does every job, natively or simulated, and the figures say which. Generation is
judged by a model that is none of them (an n-gram model of the run's train split: see
tinylm.infer.judge), and representations by a linear probe (tinylm.infer.probe).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from tinylm.checkpoint import Checkpoint
from tinylm.data.heldout import HeldOut, run_dir_of
from tinylm.data.tokenizer import file_sha256
from tinylm.data.tokens import load_token_dir
from tinylm.errors import TinylmError
from tinylm.infer.config import CompareOptions
from tinylm.infer.judge import NGramJudge, sample_stats
from tinylm.infer.probe import probe_report
from tinylm.infer.probe_tasks import order_task
from tinylm.infer.scoring import (
    blank_accuracy,
    blanks,
    causal_nats,
    distinct_word_share,
    elbo_nats,
    known_word_share,
    pseudo_nats,
    sample,
)
from tinylm.metrics import bits_per_byte

BLANK_CONTEXT = 64  # tokens per fill-in-the-blank passage (up to ~32 on each side of the blank)
PROBE_PASSAGES = 200  # examples of the order probe task
SHAPE = ("n_layer", "n_head", "d_model", "block_size")
GENERATION = {
    "causal": "native (next token)",
    "diffusion": "native (iterative unmasking)",
    "masked": "simulated (iterative unmasking)",
}


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


def warnings(infos: list[dict]) -> list[str]:
    """Ways in which the runs are not like for like."""
    out = [_overfit(f) for f in infos if _overfit(f)]
    families = [f["objective"] for f in infos]
    for family in sorted({o for o in families if families.count(o) > 1}):
        count = families.count(family)
        out.append(f"{count} models are {family}: this compares runs, not families.")
    if len({f["tokenizer_sha256"] for f in infos}) > 1:
        out.append(
            "the models use different tokenizers: blanks and prompts are cut from each one's "
            "own tokens, so per-blank figures are not paired, and there is no common judge."
        )
    if len({tuple(f["shape"].values()) for f in infos}) > 1:
        out.append(f"the models differ in size ({', '.join(str(f['shape']) for f in infos)}).")
    for key, what in (("train_tokens", "training tokens"), ("train_seconds", "training time")):
        values = [f[key] for f in infos]
        if any(v is None for v in values):
            out.append(f"the {what} of a run is unknown (no trainer_state.json).")
        elif max(values) - min(values) > 0.1 * max(values):
            unit = " s" if key == "train_seconds" else ""
            shown = " vs ".join(f"{v:,.0f}{unit}" for v in values)
            out.append(f"the runs differ in {what} ({shown}).")
    return out


def _overfit(f: dict) -> str | None:
    seen, total = f["train_tokens"], f["run_tokens"]
    if seen is None or total is None or seen >= 0.9 * total:
        return None
    return (
        f"the {f['objective']} run's best checkpoint is from {seen:,} of its {total:,} training "
        "tokens: its val loss rose after that (overfitting; more text or a shorter budget "
        "would help)."
    )


def build_judge(run: Path | None) -> tuple[NGramJudge, str] | None:
    """The n-gram judge of the run's train split, and where that is; None without one."""
    if run is None:
        return None
    try:
        data = Path(json.loads((run / "run.json").read_text(encoding="utf-8"))["data"])
        tokens = load_token_dir(data)
    except (OSError, ValueError, KeyError, TypeError, TinylmError):
        return None
    return NGramJudge.fit(np.asarray(tokens.train), tokens.vocab_size), str(data)


def prompt_starts(held: HeldOut, opts: CompareOptions, prompt_len: int) -> list[int]:
    """Where the prompts begin: spread evenly over the text, the same for every model."""
    last = len(held.ids) - prompt_len - opts.new_tokens - 1
    return np.linspace(0, max(last, 0), opts.samples).astype(int).tolist()


def real_text_perplexity(
    judge: NGramJudge, held: HeldOut, starts: list[int], prompt_len: int, n: int
) -> float:
    """The judge's perplexity of the real continuations of the prompts: the reference point."""
    return judge.perplexity(
        [(held.ids[s : s + prompt_len + n].tolist(), prompt_len) for s in starts]
    )


def measure(
    ckpt: Checkpoint,
    tok: Tokenizer,
    held: HeldOut,
    opts: CompareOptions,
    blank_len: int,
    judge: NGramJudge | None,
    sampled: HeldOut,
) -> dict:
    """Blanks, bits per byte, samples (judged) and a probe for one model. The prompts and probe
    passages come from `sampled`, a fixed span of `held`, so more blanks or scored tokens move
    neither."""
    model, causal = ckpt.model, ckpt.config.causal
    windows, positions = blanks(held.ids, blank_len, opts.blanks)
    fill = blank_accuracy(model, windows, positions, opts.shortlist)
    fill["method"] = f"simulated (rescoring {opts.shortlist})" if causal else "native"
    out = {"fill_mask": fill, "bits_per_byte": _bits_per_byte(ckpt, held, opts)}
    out["generation"] = _generation(ckpt, tok, sampled, opts, judge)
    seqs, labels = order_task(sampled.ids, model.config.block_size // 2, PROBE_PASSAGES, opts.seed)
    if len(seqs) >= 20:
        report = probe_report(model, seqs, labels, opts.seed)
        out["probe"] = {"task": "order", **report}
    return out


def _bits_per_byte(ckpt: Checkpoint, held: HeldOut, opts: CompareOptions) -> dict:
    """Exact for a causal model; the ELBO bound (with its error) and the pseudo-likelihood for
    a bidirectional one."""
    model = ckpt.model
    if ckpt.config.causal:
        nats, count = causal_nats(model, held.ids, opts.max_tokens)
        value = bits_per_byte(nats / max(count, 1), held.bytes_per_token)
        return {"value": value, "tokens": count, "method": "exact likelihood"}
    nats, se, count = elbo_nats(model, held.ids, opts.max_tokens)
    pseudo, pcount = pseudo_nats(model, held.ids, opts.max_tokens)
    return {
        "value": bits_per_byte(nats / max(count, 1), held.bytes_per_token),
        "se": bits_per_byte(se / max(count, 1), held.bytes_per_token),
        "tokens": count,
        "method": "ELBO bound",
        "pseudo": bits_per_byte(pseudo / max(pcount, 1), held.bytes_per_token),
    }


def _generation(
    ckpt: Checkpoint, tok: Tokenizer, held: HeldOut, opts: CompareOptions, judge: NGramJudge | None
) -> dict:
    """Samples from the same prompts, and what a neutral judge and simple counts make of them."""
    model = ckpt.model
    prompt_len = min(model.config.block_size // 4, 24)
    gens, rates, scored = [], [], []
    for i, s in enumerate(prompt_starts(held, opts, prompt_len)):
        prompt = held.ids[s : s + prompt_len].tolist()
        ids, rate = sample(model, prompt, opts.new_tokens, opts.seed + i)
        gens.append({"prompt": tok.decode(prompt), "text": tok.decode(ids)})
        rates.append(rate)
        scored.append((prompt + ids, prompt_len))
    texts = [g["text"] for g in gens]
    generated = "\n".join(texts)
    return {
        "method": GENERATION[ckpt.config.objective],
        "tokens_per_second": float(np.mean(rates)),
        "judge_perplexity": judge.perplexity(scored) if judge is not None else None,
        **sample_stats(texts),
        "known_words": known_word_share(generated, held.text),
        "distinct_words": distinct_word_share(generated),
        "samples": gens,
    }
