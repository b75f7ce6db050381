"""`tinylm generate`: sample text from a causal checkpoint; text on stdout, statistics on stderr."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
from tinylm.cli.streaming import Echo, silence_stdout, stream_mode
from tinylm.errors import UsageError
from tinylm.infer.config import GENERATE_BOUNDS, ROUNDS, SAMPLING_BOUNDS, SamplingConfig

if TYPE_CHECKING:
    import torch

    from tinylm.infer.loading import TextStream
    from tinylm.model import Transformer


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
    "--rounds",
    type=in_bounds(GENERATE_BOUNDS["rounds"], integer=True),
    default=ROUNDS,
    show_default=True,
    help="Masked models only (simulated): refinement rounds per block of new tokens.",
)
@click.option(
    "--left-to-right",
    is_flag=True,
    help="Masked models only: fix new tokens left to right instead of surest first.",
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
    rounds: int,
    left_to_right: bool,
    checkpoint: str,
    device: str,
) -> None:
    """Sample text from a causal model (or, simulated, a masked one).

    RUN is a run directory (its best/ checkpoint) or a checkpoint directory. A masked model
    was never trained to continue text; with one, generation is simulated mask-predict style
    (blocks of [MASK]s filled over a few rounds) and labelled as such.

    \b
    Examples:
      tinylm generate runs/causal-20261124-173816 --prompt "ROMEO:"
      echo "HAMLET." | tinylm generate runs/x --prompt - -n 100 --seed 7
      tinylm generate runs/x -t 0 --stop "\\n\\n" --json
    """
    import torch

    from tinylm.device import pick_device
    from tinylm.infer.loading import TextStream

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
    simulated = not ckpt.config.causal
    if simulated:
        click.echo(
            f"Simulated: {run} is a masked model, which was never trained to continue text; it "
            f"fills blocks of [MASK]s after the text in {rounds} rounds, "
            f"{'left to right' if left_to_right else 'surest first'} (mask-predict).",
            err=True,
        )
    ids = encode_or_warn(tok, text, "prompt")
    seed = seed if seed is not None else int(torch.randint(0, 2**31 - 1, ()).item())
    mode = stream_mode(stream, as_json)
    stops = tuple(unescape(s) for s in stop)
    try:
        for i in range(num_samples):
            g = torch.Generator().manual_seed(seed + i)
            masked = (rounds, left_to_right) if simulated else None
            tokens = _tokens(ckpt.model, ids, cfg, g, masked)
            echo = Echo(mode, text)
            drawn = _draw(tokens, TextStream(tok, stops), echo, cfg.max_new_tokens)
            _show(drawn, echo, text, seed + i, simulated, as_json)
            click.echo(drawn.summary(dev, seed + i), err=True)
            if drawn.reason == "interrupted":  # the text so far is out: now exit 130
                raise KeyboardInterrupt
            if not as_json and i + 1 < num_samples:
                click.echo("---")
    except BrokenPipeError:  # the reader has gone (`| head`): stop quietly, like a Unix filter
        silence_stdout()


def _tokens(
    model: Transformer,
    ids: list[int],
    cfg: SamplingConfig,
    g: torch.Generator,
    masked: tuple[int, bool] | None,
) -> Iterator[int]:
    """New tokens: natively from a causal model, or simulated from a masked one, whose
    `masked` holds (rounds, left_to_right)."""
    if masked is None:
        from tinylm.infer.sampling import generate as sample_tokens

        return sample_tokens(model, ids, cfg, g)
    from tinylm.infer.simulate import mask_predict

    return mask_predict(model, ids, cfg, g, *masked)


@dataclass
class _Drawn:
    """One sample as it was drawn: its text, why it ended and how fast it came."""

    out: TextStream
    reason: str  # "length", "eos", "stop" or "interrupted"
    first: float  # seconds to the first token
    seconds: float
    rest: str  # what streaming had not printed yet

    def summary(self, dev: object, seed: int) -> str:
        """The statistics line for stderr."""
        n = self.out.count
        rate = n / self.seconds if self.seconds > 0 else 0.0
        return (
            f"[{n} tokens, {rate:.0f} tokens/s, first token {self.first * 1000:.0f} ms, "
            f"{dev}, seed {seed}, stop: {self.reason}]"
        )


def _draw(tokens: Iterator[int], out: TextStream, echo: Echo, most: int) -> _Drawn:
    """Consume the tokens into text until a stop string, echoing pieces as they settle. Ctrl-C
    ends the sample early, keeping what was drawn (the caller prints it, then exits 130)."""
    started = time.perf_counter()
    first = None
    reason = "length"
    try:
        for token in tokens:
            first = first or time.perf_counter() - started
            echo(out.push(token))
            if out.stopped:
                reason = "stop"
                break
        else:
            if out.count < most:
                reason = "eos"
    except KeyboardInterrupt:
        reason = "interrupted"
    rest = out.finish(complete_only=reason == "interrupted")  # never half a character
    return _Drawn(out, reason, first or 0.0, time.perf_counter() - started, rest)


def _show(drawn: _Drawn, echo: Echo, text: str, seed: int, simulated: bool, as_json: bool) -> None:
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
