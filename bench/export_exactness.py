"""How exactly does `tinylm export` carry a trained model into transformers?

For each run: export it, load it with AutoModelForCausalLM / AutoModelForMaskedLM, and report the
largest |Δ logits| against tinylm on held-out windows (and the logits' own size); for a
bidirectional run also how often the fill-mask pipeline's top-5 (ranked as tinylm ranks, see
the model card) equals tinylm's, and the largest score difference. Needs transformers.

    tinylm train --time 1m --out runs/gpt
    tinylm train --time 1m --objective masked --out runs/bert
    python bench/export_exactness.py runs/gpt runs/bert
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from tinylm.data.heldout import from_run
from tinylm.data.vocab import MASK_ID, N_SPECIAL
from tinylm.export.directory import export_checkpoint
from tinylm.infer.fill_mask import fill_mask
from tinylm.infer.loading import load_for_inference


def _windows(run: Path, ckpt, rows: int) -> torch.Tensor:  # noqa: ANN001
    held = torch.as_tensor(from_run(run, ckpt.tokenizer_path, 1 << 16).ids.astype("int64"))
    T = ckpt.config.block_size
    starts = torch.linspace(0, len(held) - T - 1, rows).long()
    return torch.stack([held[s : s + T] for s in starts])  # (rows, T)


def _fill_mask_agreement(model, tok, out: Path, x: torch.Tensor) -> str:  # noqa: ANN001
    from transformers import pipeline

    fill = pipeline("fill-mask", model=str(out))
    words = [t for t, i in fill.tokenizer.get_vocab().items() if i >= N_SPECIAL]
    same, compared, worst = 0, 0, 0.0
    for row in x:
        ids = row.tolist()
        ids[len(ids) // 2] = MASK_ID
        text = tok.decode(ids, skip_special_tokens=False)
        if fill.tokenizer(text).input_ids != ids:  # a window cut inside a word re-reads apart
            continue
        ours = fill_mask(model, tok, ids, top_k=5)[0]
        theirs = fill(text, targets=words, top_k=5)
        compared += 1
        same += [c.token for c in ours] == [c["token"] for c in theirs]
        worst = max(worst, *(abs(c.score - d["score"]) for c, d in zip(ours, theirs, strict=True)))
    return f"; fill-mask top-5 identical {same}/{compared} texts, max |Δ score| {worst:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--rows", type=int, default=32)
    args = parser.parse_args()
    import transformers
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    transformers.logging.set_verbosity_error()
    for run in args.runs:
        ckpt, tok = load_for_inference(run, "best", torch.device("cpu"))
        x = _windows(run, ckpt, args.rows)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "hf"
            result = export_checkpoint(ckpt, tok, out)
            auto = AutoModelForCausalLM if ckpt.config.causal else AutoModelForMaskedLM
            hf = auto.from_pretrained(out).eval()
            with torch.no_grad():
                ours, theirs = ckpt.model(x), hf(x).logits
            gap = float((ours - theirs).abs().max())
            line = (
                f"{run} ({ckpt.config.objective}, {ckpt.model.num_params():,} parameters) as "
                f"{result.architecture}: max |Δ logits| {gap:.1e} over {x.numel():,} positions "
                f"(max |logit| {float(ours.abs().max()):.1f})"
            )
            if not ckpt.config.causal:
                line += _fill_mask_agreement(ckpt.model, tok, out, x)
        print(line)


if __name__ == "__main__":
    main()
