"""Quality per CPU second and throughput of `tinylm train`, Hugging Face baselines side by side.

    pip install -e ".[bench]"                  # transformers, for the baselines
    python bench/train_bench.py                # everything (about 20 minutes on 2 cores)
    python bench/train_bench.py --only causal  # or masked, or mfu; --budget 60 for a shorter run

causal: tinylm's default causal recipe vs HF GPT2LMHeadModel of the same size (nanoGPT's CPU
        recipe: AdamW 1e-3, batch 12): time to reach val 1.886 nats/char, and val after the budget.
masked: tinylm's default masked recipe (its rate and batch) vs HF ModernBertForMaskedLM of the
        same size (30 % masking, batch 64, sparse head): top-1 on fixed-seed 15 % val masks
        after the budget.
maskrate: the masked training rate (15, 30, 40 %) at a fixed budget, same fixed eval masks.
mfu:    tokens/s and model FLOPs utilisation (6 N + 12 L T d FLOPs per token / this CPU's fp32
        matmul peak, measured here) for the size presets.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import (
    NANOGPT,
    cpu_peak_flops,
    full_val_loss,
    masked_val_acc,
    shakespeare_chars,
    timed_run,
)

from tinylm.data.tokens import TokenData, random_windows
from tinylm.metrics import IGNORE, mask_tokens, next_token_nll
from tinylm.model import ModelConfig, Transformer
from tinylm.train.config import (
    BATCH_SIZES,
    DROPOUT,
    SIZES,
    MaskingConfig,
    TrainConfig,
    default_batch_size,
    default_batch_warmup,
)

TARGET = 1.886  # nanoGPT's CPU recipe after 2000 iterations (97.7 s here)


def hf_loop(model, data: TokenData, step_fn, budget: float, lr: float, batch: int) -> int:
    """A plain AdamW loop for the HF baselines; returns the number of steps."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), fused=True)
    g = torch.Generator().manual_seed(0)
    model.train()
    trained, steps = 0.0, 0
    while trained < budget:
        t0 = time.perf_counter()
        loss = step_fn(model, batch, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        trained += time.perf_counter() - t0
        steps += 1
    return steps


def causal(data: TokenData, budget: float) -> None:
    cfg = ModelConfig(vocab_size=data.vocab_size, **NANOGPT, objective="causal")
    marks = [1.5 * i for i in range(1, 31)] + [60, 90, 120]
    run = timed_run(
        cfg,
        TrainConfig(max_steps=10**9, batch_warmup=default_batch_warmup("causal")),
        data,
        budget,
        [m for m in marks if m < budget],
        lambda m: full_val_loss(m, data),
    )
    reached = next((t for t in sorted(run["at"]) if run["at"][t][0] <= TARGET), None)
    when = f"{reached:.1f} s" if reached else "not within the budget"
    print(
        f"causal, char tinyshakespeare, {Transformer(cfg).num_params() / 1e6:.2f} M params, "
        f"{budget:g} s of training, full val split"
    )
    print(
        f"  tinylm (muon + adamw, batch 64): val {run['at'][budget][0]:.4f} after {budget:g} s "
        f"({run['steps']} steps); reached {TARGET} after "
        f"{when}"
    )
    for t in (15, 30, 45, 60, 90, 120):
        if t in run["at"]:
            print(f"    at {t:>4.0f} s: {run['at'][t][0]:.4f}")
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        print("  HF GPT2LMHeadModel: skipped (pip install transformers)")
        return
    torch.manual_seed(0)
    hf = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=data.vocab_size,
            n_positions=64,
            n_embd=128,
            n_layer=4,
            n_head=4,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
        )
    )

    def step(model, batch, g):
        x = random_windows(data.train, batch, 65, g)
        logits = model(input_ids=x[:, :-1]).logits
        return next_token_nll(logits, x[:, 1:])

    steps = hf_loop(hf, data, step, budget, lr=1e-3, batch=12)
    wrapped = _HFCausal(hf)
    print(
        f"  HF GPT2LMHeadModel ({sum(p.numel() for p in hf.parameters()) / 1e6:.2f} M, AdamW 1e-3,"
        f" batch 12): val {full_val_loss(wrapped, data):.4f} after {budget:g} s ({steps} steps)"
    )


class _HFCausal(torch.nn.Module):
    """Gives an HF causal LM the tinylm interface that `evaluate` uses."""

    def __init__(self, hf) -> None:
        super().__init__()
        self.hf = hf
        self.head = hf.get_output_embeddings()  # `evaluate` applies it a slice at a time
        self.config = ModelConfig(vocab_size=hf.config.vocab_size, **NANOGPT, objective="causal")

    def forward(self, idx, select=None, logits=True):
        if not logits:  # the final hidden states, before the head
            return self.hf.base_model(input_ids=idx).last_hidden_state
        out = self.hf(input_ids=idx).logits
        return out[select] if select is not None else out


class _HFMasked(_HFCausal):
    def __init__(self, hf) -> None:
        super().__init__(hf)
        self.config = ModelConfig(vocab_size=hf.config.vocab_size, **NANOGPT, objective="masked")


def masked(data: TokenData, budget: float) -> None:
    cfg = ModelConfig(vocab_size=data.vocab_size, **NANOGPT, objective="masked")
    tcfg = TrainConfig(max_steps=10**9, batch_size=default_batch_size("tiny", "masked"))
    run = timed_run(
        cfg,
        tcfg,
        data,
        budget,
        [60, 120],
        lambda m: masked_val_acc(m, data)[1],
    )
    loss, acc = masked_val_acc(run["model"], data)
    print(f"masked, char tinyshakespeare, {budget:g} s of training, top-1 at fixed 15 % val masks")
    print(
        f"  tinylm ({tcfg.masking.rate:.0%} masking, muon + adamw, batch {tcfg.batch_size}): "
        f"top-1 {acc:.1%} (CE {loss:.4f}) "
        f"after {run['steps']} steps; at 60 s {run['at'].get(60, (float('nan'),))[0]:.1%}"
    )
    try:
        from transformers import ModernBertConfig, ModernBertForMaskedLM
    except ImportError:
        print("  HF ModernBertForMaskedLM: skipped (pip install transformers)")
        return
    torch.manual_seed(0)
    hf = ModernBertForMaskedLM(
        ModernBertConfig(
            vocab_size=data.vocab_size,
            hidden_size=128,
            intermediate_size=256,
            num_hidden_layers=4,
            num_attention_heads=4,
            max_position_embeddings=64,
            global_attn_every_n_layers=1,
            local_attention=64,
            pad_token_id=0,
            bos_token_id=2,
            eos_token_id=3,
            cls_token_id=2,
            sep_token_id=3,
            mask_token_id=4,
            sparse_prediction=True,
            sparse_pred_ignore_index=IGNORE,
            attn_implementation="sdpa",
            embedding_dropout=0.0,
            attention_dropout=0.0,
            mlp_dropout=0.0,
        )
    )
    mcfg = MaskingConfig(rate=0.3)

    def step(model, batch, g):
        x = random_windows(data.train, batch, 64, g)
        inputs, labels = mask_tokens(x, data.vocab_size, mcfg, g)
        return model(input_ids=inputs, labels=labels).loss

    steps = hf_loop(hf, data, step, budget, lr=3e-3, batch=64)
    hf.config.sparse_prediction = False  # full logits for evaluation
    hf_loss, hf_acc = masked_val_acc(_HFMasked(hf), data)
    print(
        f"  HF ModernBertForMaskedLM ({sum(p.numel() for p in hf.parameters()) / 1e6:.2f} M, "
        f"AdamW 3e-3, batch 64, 30 % masking): top-1 {hf_acc:.1%} (CE {hf_loss:.4f}) after "
        f"{steps} steps"
    )


def mask_rate(data: TokenData, budget: float) -> None:
    """The training mask rate, chosen by measurement: top-1 at the same fixed 15 % val masks."""
    print(f"masked training rate, {budget:g} s each, top-1 at fixed 15 % val masks")
    cfg = ModelConfig(vocab_size=data.vocab_size, **NANOGPT, objective="masked")
    for rate in (0.15, 0.3, 0.4):
        tcfg = TrainConfig(max_steps=10**9, masking=MaskingConfig(rate=rate))
        run = timed_run(cfg, tcfg, data, budget, [], lambda m: 0.0)
        loss, acc = masked_val_acc(run["model"], data)
        print(
            f"  rate {rate:.2f}: top-1 {acc:.1%} (CE {loss:.4f}), {run['steps']} steps", flush=True
        )


def mfu(data: TokenData, seconds: float) -> None:
    peak = cpu_peak_flops()
    print(f"throughput and MFU, fp32, 2 threads; CPU fp32 matmul peak {peak / 1e9:.1f} GFLOP/s")
    runs = (
        ("tiny", data.vocab_size, "muon"),
        ("tiny", data.vocab_size, "adamw"),
        ("base", data.vocab_size, "muon"),
        ("base", data.vocab_size, "adamw"),
        ("tiny", 2048, "muon"),
        ("small", 2048, "muon"),
        ("base", 2048, "muon"),
    )
    for name, vocab, opt in runs:
        cfg = ModelConfig(vocab_size=vocab, **SIZES[name], dropout=DROPOUT, objective="causal")
        model = Transformer(cfg)
        batch = BATCH_SIZES[name]
        tcfg = TrainConfig(max_steps=10**9, batch_size=batch, optimizer=opt)
        run = timed_run(
            cfg,
            tcfg,
            data if vocab == data.vocab_size else _random_data(vocab),
            seconds,
            [],
            lambda m: 0.0,
        )
        tok_s = run["steps"] * batch * cfg.block_size / run["seconds"]
        n = model.num_params() - cfg.vocab_size * cfg.d_model  # blocks (+ learned positions)
        per_tok = (
            6 * (n + cfg.vocab_size * cfg.d_model) + 12 * cfg.n_layer * cfg.block_size * cfg.d_model
        )
        print(
            f"  {name:5s} vocab {vocab:5d} {opt:5s}: {model.num_params() / 1e6:6.2f} M params, "
            f"batch {batch}x{cfg.block_size}: {tok_s:8,.0f} tok/s, "
            f"MFU {per_tok * tok_s / peak:5.1%}",
            flush=True,
        )
    print(
        "  (MFU counts model FLOPs only; Muon's orthogonalisation is extra work it does not count)"
    )


def _random_data(vocab: int) -> TokenData:
    import numpy as np

    rng = np.random.default_rng(0)
    train = rng.integers(5, vocab, 2_000_000).astype(np.uint16)
    val = rng.integers(5, vocab, 100_000).astype(np.uint16)
    meta = {"vocab_size": vocab, "splits": {"val": {"bytes": 1, "tokens": 1}}}
    from pathlib import Path

    return TokenData(Path("."), meta, train, val)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", choices=["causal", "masked", "maskrate", "mfu"])
    ap.add_argument("--budget", type=float, default=180.0, help="training seconds per run")
    ap.add_argument("--mfu-seconds", type=float, default=20.0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    data = shakespeare_chars()
    if args.only in (None, "causal"):
        causal(data, args.budget)
    if args.only in (None, "masked"):
        masked(data, args.budget)
    if args.only in (None, "maskrate"):
        mask_rate(data, min(args.budget, 90.0))
    if args.only in (None, "mfu"):
        mfu(data, args.mfu_seconds)


if __name__ == "__main__":
    main()
