"""`tinylm generate`: sample text from a causal checkpoint; text on stdout, statistics on stderr."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import click

from tinylm.cli.options import checkpoint_option, device_option, encode_or_warn
from tinylm.errors import UsageError


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("-p", "--prompt", help="Text to continue; '-' reads stdin. Default: a new document.")
@click.option("--prompt-file", type=click.Path(path_type=Path), help="Read the prompt from a file.")
@click.option(
    "-n", "--max-new-tokens", type=int, default=200, show_default=True, help="Most tokens to add."
)
@click.option(
    "-t",
    "--temperature",
    type=float,
    default=0.8,
    show_default=True,
    help="Randomness: 0 always takes the most likely token, higher is wilder.",
)
@click.option(
    "--top-k",
    type=int,
    default=0,
    show_default=True,
    help="Sample among the k most likely tokens only (0 = all).",
)
@click.option(
    "--top-p",
    type=float,
    default=1.0,
    show_default=True,
    help="Sample among the most likely tokens holding this much probability (1 = all).",
)
@click.option(
    "--min-p",
    type=float,
    default=0.0,
    show_default=True,
    help="Drop tokens less likely than this share of the best one (0 = off).",
)
@click.option(
    "--repetition-penalty",
    type=float,
    default=1.0,
    show_default=True,
    help="Make tokens already in the text less likely (1 = off, 1.2 is mild).",
)
@click.option(
    "--stop",
    multiple=True,
    help="End the sample at this string (repeatable; \\n is a newline, \\t a tab).",
)
@click.option("--num-samples", type=int, default=1, show_default=True, help="Samples to draw.")
@click.option("--seed", type=int, help="Same seed, same output (default: a random seed, shown).")
@click.option("--ignore-eos", is_flag=True, help="Keep going past the end-of-document token.")
@click.option(
    "--stream/--no-stream",
    default=None,
    help="Print tokens as they come (default: when stdout is a terminal).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per sample on stdout.")
@click.option(
    "--rounds",
    type=int,
    default=10,
    show_default=True,
    help="Masked models only (simulated): refinement rounds per block of new tokens.",
)
@click.option(
    "--left-to-right",
    is_flag=True,
    help="Masked models only: fix new tokens left to right instead of surest first.",
)
@checkpoint_option
@device_option("auto")
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
    from tinylm.infer.config import SamplingConfig
    from tinylm.infer.loading import TextStream, load_for_inference, read_prompt_bytes
    from tinylm.infer.sampling import generate as sample_tokens
    from tinylm.infer.simulate import mask_predict

    if prompt is not None and prompt_file is not None:
        raise UsageError("give --prompt or --prompt-file, not both.")
    if num_samples < 1:
        raise UsageError(f"--num-samples {num_samples} must be at least 1.")
    try:
        cfg = SamplingConfig(
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            min_p=min_p,
            repetition_penalty=repetition_penalty,
            stop_at_eos=not ignore_eos,
        )
    except ValueError as e:
        raise UsageError(f"impossible sampling option: {e}.") from e
    text = _read_prompt(prompt, prompt_file, read_prompt_bytes)
    dev, _ = pick_device(device)
    ckpt, tok = load_for_inference(run, checkpoint, dev)
    simulated = not ckpt.config.causal
    if rounds < 1:
        raise UsageError(f"--rounds {rounds} must be at least 1.")
    if simulated:
        click.echo(
            f"Simulated: {run} is a masked model, which was never trained to continue text; it "
            f"fills blocks of [MASK]s after the text in {rounds} rounds, "
            f"{'left to right' if left_to_right else 'surest first'} (mask-predict).",
            err=True,
        )
    ids = encode_or_warn(tok, text, "prompt")
    seed = seed if seed is not None else int(torch.randint(0, 2**31 - 1, ()).item())
    stream = sys.stdout.isatty() if stream is None else stream
    for i in range(num_samples):
        g = torch.Generator().manual_seed(seed + i)
        out = TextStream(tok, tuple(unescape(s) for s in stop))
        started = time.perf_counter()
        first = None
        if stream and not as_json:
            click.echo(text, nl=False)
        reason = "length"
        if simulated:
            tokens = mask_predict(ckpt.model, ids, cfg, g, rounds, left_to_right)
        else:
            tokens = sample_tokens(ckpt.model, ids, cfg, g)
        for token in tokens:
            first = first or time.perf_counter() - started
            piece = out.push(token)
            if stream and not as_json and piece:
                click.echo(piece, nl=False)
            if out.stopped:
                reason = "stop"
                break
        else:
            if len(out.ids) < cfg.max_new_tokens:
                reason = "eos"
        rest = out.finish()
        seconds = time.perf_counter() - started
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "prompt": text,
                        "text": out.text,
                        "tokens": len(out.ids),
                        "stop_reason": reason,
                        "seed": seed + i,
                        "simulated": simulated,
                    }
                )
            )
        elif stream:
            click.echo(rest)
        else:
            click.echo(text + out.text)
        if num_samples > 1 and not as_json and i + 1 < num_samples:
            click.echo("---")
        rate = len(out.ids) / seconds if seconds > 0 else 0.0
        click.echo(
            f"[{len(out.ids)} tokens, {rate:.0f} tokens/s, first token "
            f"{(first or 0) * 1000:.0f} ms, {dev}, seed {seed + i}, stop: {reason}]",
            err=True,
        )


def unescape(text: str) -> str:
    """\\n, \\t and \\\\ as typed in a shell, where "\\n" stays two characters."""
    return re.sub(r"\\([nt\\])", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}[m[1]], text)


def _read_prompt(prompt: str | None, prompt_file: Path | None, decode) -> str:  # noqa: ANN001
    """The prompt from --prompt, --prompt-file or stdin ('-')."""
    if prompt_file is not None:
        if str(prompt_file) == "-":
            return decode(sys.stdin.buffer.read(), "<stdin>")
        if not prompt_file.is_file():
            raise UsageError(f"prompt file {prompt_file} does not exist.")
        return decode(prompt_file.read_bytes(), str(prompt_file))
    if prompt == "-":
        return decode(sys.stdin.buffer.read(), "<stdin>")
    return prompt or ""
