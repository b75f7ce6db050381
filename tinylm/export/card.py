"""The model card (README.md with the Hub's YAML front matter) and, for a causal model,
generation_config.json with tinylm's sampling defaults."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePath

from tinylm.data.vocab import EOS_ID, PAD_ID
from tinylm.export.run_facts import RunFacts
from tinylm.infer.config import SamplingConfig
from tinylm.model import ModelConfig

DEFAULT_LICENSE = "other"  # the model inherits its training data's terms, which tinylm can't know
TASKS = {"causal": ("text-generation", "Causal language modeling")}
MASKED_TASK = ("fill-mask", "Masked language modeling")
# eval event field -> (model-index metric type, what it is), per objective
METRICS = {
    "causal": {
        "val_loss": ("loss", "Validation loss (nats per token)"),
        "val_ppl": ("perplexity", "Validation perplexity"),
        "val_bpb": ("bits_per_byte", "Validation bits per byte"),
    },
    "masked": {
        "val_loss": ("loss", "Validation cross-entropy at fixed 15% masks (nats per token)"),
        "val_acc": ("accuracy", "Validation top-1 at fixed 15% masks"),
    },
    "diffusion": {
        "val_loss": ("loss", "Validation negative ELBO (nats per token, an upper bound)"),
        "val_bpb": ("bits_per_byte", "Validation bits per byte (negative ELBO bound)"),
        "val_acc": ("accuracy", "Validation top-1 at fixed 15% masks"),
    },
}


@dataclass
class CardInput:
    """Everything the card states."""

    cfg: ModelConfig
    facts: RunFacts
    fmt: str  # "hf" or "gguf"
    architecture: str  # the transformers class, or "gptneox" for GGUF
    tokenizer_kind: str
    params: int
    license: str = DEFAULT_LICENSE
    max_error: float | None = None  # measured max |Δ logits| of an approximate export


def to_yaml(value: object, indent: int = 0) -> str:
    """A small YAML emitter for the front matter: strings are written as JSON strings, which
    YAML reads as they are (no pyyaml needed at export time)."""
    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                lines.append(f"{pad}{k}:\n{to_yaml(v, indent + 2)}")
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
        return "\n".join(lines)
    if isinstance(value, list):
        items = []
        for v in value:
            body = to_yaml(v, indent + 2) if isinstance(v, dict | list) else pad + "  " + _scalar(v)
            items.append(f"{pad}- {body.lstrip()}")
        return "\n".join(items)
    return pad + _scalar(value)


def _scalar(v: object) -> str:
    if isinstance(v, dict | list):  # empty
        return "{}" if isinstance(v, dict) else "[]"
    if v is None:
        return "null"
    return json.dumps(v) if not isinstance(v, str) or not v.isidentifier() else v


def front_matter(card: CardInput) -> dict:
    """The card's metadata: library, task, licence, tags, and the run's figures as model-index."""
    task, task_name = TASKS.get(card.cfg.objective, MASKED_TASK)
    meta: dict = {}
    if card.fmt == "hf":
        meta["library_name"] = "transformers"
    meta["pipeline_tag"] = task
    meta["license"] = card.license
    if card.license == "other":
        meta["license_name"] = "unspecified"
    family = "gguf" if card.fmt == "gguf" else card.architecture.removesuffix("ForCausalLM")
    tags = ["tinylm", f"tinylm-{card.cfg.objective}", family.removesuffix("ForMaskedLM").lower()]
    meta["tags"] = [*tags, task]
    metrics = [
        {"type": kind, "value": round(float(card.facts.evaluation[field]), 4), "name": name}
        for field, (kind, name) in METRICS[card.cfg.objective].items()
        if field in card.facts.evaluation
    ]
    if metrics:
        split = "held-out split of " + (", ".join(source_names(card.facts)) or "the training data")
        result = {
            "task": {"type": task, "name": task_name},
            "dataset": {"type": "text", "name": split, "split": "validation"},
            "metrics": metrics,
        }
        meta["model-index"] = [{"name": card.facts.name, "results": [result]}]
    return meta


def source_names(facts: RunFacts) -> list[str]:
    """The training files by name only: a card is published, the user's directories are not."""
    return [PurePath(str(s.get("path", "?"))).name for s in facts.sources]


def generation_config(cfg: ModelConfig) -> dict:
    """generation_config.json: tinylm generate's sampling defaults, [EOS] to start and stop."""
    d = SamplingConfig()
    return {
        "bos_token_id": EOS_ID,
        "eos_token_id": EOS_ID,
        "pad_token_id": PAD_ID,
        "do_sample": d.temperature > 0,
        "temperature": d.temperature,
        "top_k": d.top_k,  # 0: off, as in tinylm
        "top_p": d.top_p,
        "max_new_tokens": d.max_new_tokens,
    }
