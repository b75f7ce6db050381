"""`tinylm export`: a run's model as a Hugging Face transformers directory or a GGUF file."""

from __future__ import annotations

import re
from pathlib import Path

import click

from tinylm.cli.options import checkpoint_option, load_model
from tinylm.export import FORMATS

LICENSE_ID = re.compile(r"[a-z0-9][a-z0-9.+-]*")  # the Hub's licence identifiers, e.g. cc-by-4.0
LOADERS = {
    "GPTNeoXForCausalLM": "AutoModelForCausalLM.from_pretrained({out!r})",
    "EsmForMaskedLM": 'pipeline("fill-mask", model={out!r})',
    "gptneox": "Llama({out!r} + '/model.gguf')  # llama-cpp-python",
}


def _license(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not LICENSE_ID.fullmatch(value):
        raise click.BadParameter(
            f"{value!r} is not a licence identifier (lowercase, like mit, apache-2.0, cc-by-4.0)."
        )
    return value


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Output directory (written atomically).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="hf",
    show_default=True,
    help="hf: a transformers model directory; gguf: one file for llama.cpp (causal models "
    "with the byte-level BPE tokenizer).",
)
@checkpoint_option
@click.option("--force", is_flag=True, help="Replace an existing non-empty output directory.")
@click.option(
    "--license",
    "license_",
    default="other",
    show_default=True,
    callback=_license,
    help="The model card's licence (a Hub identifier); 'other' says it was not specified.",
)
def export(run: Path, out: Path, fmt: str, checkpoint: str, force: bool, license_: str) -> None:
    """Export RUN's model for other runtimes: transformers or llama.cpp.

    A causal model becomes GPTNeoXForCausalLM, a masked or diffusion model EsmForMaskedLM
    (stock classes, no remote code), with a fast tokenizer, a model card (README.md) and,
    for a causal model, generation_config.json. Logits match tinylm's to float32 rounding.

    \b
    Examples:
      tinylm export runs/gpt --out hf/gpt
      tinylm export runs/bert --out hf/bert --checkpoint last --license mit
      tinylm export runs/gpt --out gguf/gpt --format gguf
    """
    import torch

    from tinylm.atomic import check_out_clear, check_out_dir
    from tinylm.export.directory import export_checkpoint

    check_out_clear(out, [run])  # before loading: a wrong --out fails at once
    check_out_dir(out, force)
    ckpt, tok = load_model(run, checkpoint, torch.device("cpu"))
    result = export_checkpoint(ckpt, tok, out, fmt, force, license_)
    if result.warning:
        click.echo(f"Warning: {result.warning}", err=True)
    how = "exact" if result.max_error is None else f"max |Δ logits| {result.max_error:.1e}"
    if result.fmt == "gguf":  # llama.cpp's own kernels (a tanh GELU): close, not exact
        how = "float32 weights" if result.max_error is None else how
    click.echo(f"{out}: {result.architecture} ({how}) from {result.checkpoint}")
    click.echo(f"  files: {', '.join(result.files)}")
    click.echo(f"  load:  {LOADERS[result.architecture].format(out=str(out))}")
