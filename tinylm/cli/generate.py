"""`tinylm generate`: sample text (causal: next token; diffusion: iterative unmasking; masked:
the same unmasking, simulated); text on stdout, statistics on stderr."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tinylm.cli.options import (
    checkpoint_option,
    device_option,
    encode_or_warn,
    in_bounds,
    load_model,
)
from tinylm.cli.streaming import Drawn, Echo, draw, silence_stdout, stream_mode
from tinylm.errors import UsageError
from tinylm.infer.config import (
    GENERATE_BOUNDS,
    REMASKING,
    SAMPLING_BOUNDS,
    SamplingConfig,
    UnmaskConfig,
)

if TYPE_CHECKING:
    import torch
    from tokenizers import Tokenizer

    from tinylm.checkpoint import Checkpoint
    from tinylm.model import ModelConfig, Transformer


def _sampling_option(*names: str, help: str) -> Callable:
    """An option whose default and range SamplingConfig owns."""
    field = names[-1].removeprefix("--").replace("-", "_")
    default = getattr(SamplingConfig, field)
    kind = in_bounds(SAMPLING_BOUNDS[field], integer=isinstance(default, int))
    return click.option(*names, type=kind, default=default, show_default=True, help=help)


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("-p", "--prompt", help="Text to continue; '-' reads stdin. Default: a new document.")
@click.option("--prompt-file", type=click.Path(path_type=Path), help="Read the prompt from a file.")
@_sampling_option("-n", "--max-new-tokens", help="Most tokens to add (at most 1,000,000).")
@_sampling_option(
    "-t",
    "--temperature",
    help="Randomness: 0 always takes the most likely token, higher is wilder.",
)
@_sampling_option("--top-k", help="Sample among the k most likely tokens only (0 = all).")
@_sampling_option(
    "--top-p", help="Sample among the most likely tokens holding this much probability (1 = all)."
)
@_sampling_option(
    "--min-p", help="Drop tokens less likely than this share of the best one (0 = off)."
)
@_sampling_option(
    "--repetition-penalty",
    help="Make tokens already in the text less likely (1 = off, 1.2 is mild).",
)
@click.option(
    "--stop",
    multiple=True,
    help="End the sample at this string (repeatable; \\n is a newline, \\t a tab).",
)
@click.option(
    "--num-samples",
    type=in_bounds(GENERATE_BOUNDS["num_samples"], integer=True),
    default=1,
    show_default=True,
    help="Samples to draw.",
)
@click.option(
    "--seed",
    type=in_bounds(GENERATE_BOUNDS["seed"], integer=True),
    help="Same seed, same output (default: a random seed, shown).",
)
@click.option("--ignore-eos", is_flag=True, help="Keep going past the end-of-document token.")
@click.option(
    "--stream/--no-stream",
    default=None,
    help="Print tokens as they come, or each sample when it is done. Default: tokens on a "
    "terminal; to a pipe or file, each line as soon as it is complete.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per sample on stdout.")
@click.option(
    "--steps",
    type=in_bounds(GENERATE_BOUNDS["steps"], integer=True),
    help="Masked and diffusion models: model calls per block; must divide --block-length "
    "(default: one per token of the block).",
)
@click.option(
    "--block-length",
    type=in_bounds(GENERATE_BOUNDS["block_length"], integer=True),
    help="Masked and diffusion models: new tokens filled per block, left to right (default: "
    "half the model's context, at most 32).",
)
@click.option(
    "--remasking",
    type=click.Choice(REMASKING),
    help="Masked and diffusion models: which predictions a step commits, an equal share each "
    "step: random ones (random, MDLM's reverse process in a random order; default: varied text "
    "without loops), the surest (confidence, LLaDA: fluent but repetitive "
    "on small models), or the leftmost.",
)
@checkpoint_option
@device_option()
def generate(
    run: Path,
    prompt: str | None,
    prompt_file: Path | None,
    max_new_tokens: int,
    temperature: float,
    top_k: int,
    top_p: float,
    min_p: float,
    repetition_penalty: float,
    stop: tuple[str, ...],
    num_samples: int,
    seed: int | None,
    ignore_eos: bool,
    stream: bool | None,
    as_json: bool,
    steps: int | None,
    block_length: int | None,
    remasking: str | None,
    checkpoint: str,
    device: str,
) -> None:
    """Sample text from a causal or diffusion model (or, simulated, a masked one).

    RUN is a run directory (its best/) or a checkpoint directory. A causal model adds one token
    at a time; a diffusion model unmasks blocks of [MASK]s after the text, left to right, in
    --steps model calls each; a masked (BERT) model runs that sampler too, labelled simulated.

    \b
    Examples:
      tinylm generate runs/causal-20261124-173816 --prompt "ROMEO:"
      echo "HAMLET." | tinylm generate runs/x --prompt - -n 100 --seed 7
      tinylm generate runs/x -t 0 --stop "\\n\\n" --json
      tinylm generate runs/mdlm --prompt "ROMEO:" --steps 8 --block-length 32
    """
    import torch

    from tinylm.device import pick_device

    if prompt is not None and prompt_file is not None:
        raise UsageError("give --prompt or --prompt-file, not both.")
    cfg = SamplingConfig(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        min_p=min_p,
        repetition_penalty=repetition_penalty,
        stop_at_eos=not ignore_eos,
    )
    text = _read_prompt(prompt, prompt_file)
    dev, _ = pick_device(device)
    ckpt, tok = load_model(run, checkpoint, dev)
    unmask = _unmasking(ckpt.config, steps, block_length, remasking, run)
    seed = seed if seed is not None else int(torch.randint(0, 2**31 - 1, ()).item())
    stops = tuple(unescape(s) for s in stop)
    try:
        _samples(ckpt, tok, text, cfg, unmask, seed, num_samples, stops, stream, as_json)
    except BrokenPipeError:  # the reader has gone (`| head`): stop quietly, like a Unix filter
        silence_stdout()


def _samples(
    ckpt: Checkpoint,
    tok: Tokenizer,
    text: str,
    cfg: SamplingConfig,
    unmask: UnmaskConfig | None,
    seed: int,
    count: int,
    stops: tuple[str, ...],
    stream: bool | None,
    as_json: bool,
) -> None:
    """Draw `count` samples (seeds seed, seed + 1, ...), each shown as it comes or when done."""
    import torch

    from tinylm.infer.loading import TextStream

    ids = encode_or_warn(tok, text, "prompt")
    mode = stream_mode(stream, as_json)
    for i in range(count):
        g = torch.Generator().manual_seed(seed + i)
        tokens = _tokens(ckpt.model, ids, cfg, g, unmask)
        echo = Echo(mode, text)
        drawn = draw(tokens, TextStream(tok, stops), echo, cfg.max_new_tokens)
        _show(drawn, echo, text, seed + i, ckpt.config.objective == "masked", as_json)
        click.echo(drawn.summary(ckpt.model.device, seed + i), err=True)
        if drawn.reason == "interrupted":  # the text so far is out: now exit 130
            raise KeyboardInterrupt
        if not as_json and i + 1 < count:
            click.echo("---")


def _unmasking(
    model: ModelConfig, steps: int | None, block: int | None, remasking: str | None, run: Path
) -> UnmaskConfig | None:
    """The unmasking settings of a bidirectional model (said on stderr); None for a causal one,
    which refuses them."""
    options = (("--steps", steps), ("--block-length", block), ("--remasking", remasking))
    given = [name for name, value in options if value is not None]
    if model.causal:
        if given:
            raise UsageError(
                f"{given[0]} applies to masked and diffusion models; {run} is a causal model, "
                "which adds one token at a time."
            )
        return None
    unmask = UnmaskConfig(block, steps, remasking or UnmaskConfig.remasking)
    try:
        length, per_block = unmask.resolve(model.block_size)
    except ValueError as e:
        raise UsageError(f"{e}.") from e
    from tinylm.infer.generation import unmask_note

    note = unmask_note(model.objective, str(run), length, per_block, unmask.remasking)
    click.echo(note, err=True)
    return unmask


def _tokens(
    model: Transformer,
    ids: list[int],
    cfg: SamplingConfig,
    g: torch.Generator,
    unmask: UnmaskConfig | None,
) -> Iterator[int]:
    """New tokens: next-token sampling from a causal model, iterative unmasking otherwise."""
    from tinylm.infer.generation import new_tokens

    return new_tokens(model, ids, cfg, g, unmask)


def _show(drawn: Drawn, echo: Echo, text: str, seed: int, simulated: bool, as_json: bool) -> None:
    """The sample on stdout: a JSON object (also when interrupted: a whole, parseable line
    whose stop_reason says so), the rest of a stream, or the whole text."""
    if as_json:
        row = {
            "prompt": text,
            "text": drawn.out.text,
            "tokens": drawn.out.count,
            "stop_reason": drawn.reason,
            "seed": seed,
            "simulated": simulated,
        }
        click.echo(json.dumps(row))
    elif echo.mode != "off":
        echo.end(drawn.rest)
    else:
        click.echo(text + drawn.out.text)


def unescape(text: str) -> str:
    """\\n, \\t and \\\\ as typed in a shell, where "\\n" stays two characters."""
    return re.sub(r"\\([nt\\])", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}[m[1]], text)


def _read_prompt(prompt: str | None, prompt_file: Path | None) -> str:
    """The prompt from --prompt, --prompt-file or stdin ('-')."""
    from tinylm.infer.loading import read_prompt_bytes as decode

    if prompt_file is not None:
        if str(prompt_file) == "-":
            return decode(sys.stdin.buffer.read(), "<stdin>")
        if not prompt_file.is_file():
            raise UsageError(f"prompt file {prompt_file} does not exist.")
        return decode(prompt_file.read_bytes(), str(prompt_file))
    if prompt == "-":
        return decode(sys.stdin.buffer.read(), "<stdin>")
    return prompt or ""
