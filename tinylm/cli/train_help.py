"""The longer help texts of `tinylm train`'s options, built from their owners' defaults."""

from __future__ import annotations

from tinylm.train.config import (
    BATCH_SIZES,
    BIDIRECTIONAL_BATCH_SIZES,
    OBJECTIVES,
    REPEAT_EPOCHS,
    SIZES,
    WARMUP_BATCH_SHARE,
    default_batch_warmup,
)

# measured figures (see the end of SIZE_HELP); the shapes come from SIZES
_MEASURED = {
    "tiny": "0.78 M parameters in the blocks, ~20k tokens/s",
    "small": "2.6 M, ~6k tokens/s",
    "base": "10.5 M, ~1.6k tokens/s",
}
SIZE_HELP = (
    "Model size preset. "
    + "; ".join(
        f"{name}: {s['n_layer']} layers, width {s['d_model']}, context {s['block_size']}, "
        f"{_MEASURED[name]}"
        for name, s in SIZES.items()
    )
    + ". Plus vocab x width for the tied embedding. Tokens/s measured on a 2-core laptop CPU "
    "at a 2048 vocabulary (bench/train_bench.py)."
)
REPEAT_HELP = (
    f"Causal: dropout reached as the train split repeats (rising from {REPEAT_EPOCHS[0]:g} to "
    f"{REPEAT_EPOCHS[1]:g} epochs), against overfitting a small corpus on long runs; 0: off."
)
WARMUP_HELP = (
    f"Share of the budget at {WARMUP_BATCH_SHARE:.0%} of the batch, for more steps early on "
    f"(default: {', '.join(f'{o} {default_batch_warmup(o):g}' for o in OBJECTIVES)}); 0: off."
)
# '64 tiny, 32 small, 32 base; masked and diffusion: 32 tiny', from the preset tables
_OWN = {n: b for n, b in BIDIRECTIONAL_BATCH_SIZES.items() if b != BATCH_SIZES[n]}
BATCH_HELP = (
    f"Windows per step (default: {', '.join(f'{b} {n}' for n, b in BATCH_SIZES.items())}; "
    f"masked and diffusion: {', '.join(f'{b} {n}' for n, b in _OWN.items())})."
)
