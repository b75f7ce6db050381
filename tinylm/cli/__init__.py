"""The `tinylm` command line: parse options, call the library, render results, map errors.

Heavy modules (torch, tokenizers, numpy) are imported inside commands so `--help` stays instant.
"""

from __future__ import annotations

import errno

import click

from tinylm import __version__
from tinylm.errors import TinylmError


class TinylmGroup(click.Group):
    """A group that turns library errors into one clear line and the right exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TinylmError as e:
            err = click.ClickException(str(e))
            err.exit_code = e.exit_code
            raise err from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT):
                where = f" ({e.filename})" if e.filename else ""
                raise click.ClickException(f"cannot write{where}: {e.strerror}.") from None
            raise


@click.group(cls=TinylmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tinylm")
def cli() -> None:
    """Train tiny causal (GPT) and masked (BERT) language models on a laptop.

    Both families come from one Transformer: causal models see only the past and generate;
    masked models see the whole sequence and fill in blanks.

    \b
      tinylm train                                   # bundled Shakespeare, ~2 minutes on a CPU
      tinylm tokenize corpus.txt --out work/tok      # your own corpus
      tinylm train work/tok --objective masked --time 5m
      tinylm generate runs/<name> --prompt "ROMEO:"  # causal models sample text
      tinylm fill-mask runs/<name> "To be, or not to [MASK]."   # masked models fill blanks
      tinylm compare --train --time 3m               # both families, same budget, side by side
    """


# commands register after the group exists
from tinylm.cli.attention import attention  # noqa: E402
from tinylm.cli.compare import compare  # noqa: E402
from tinylm.cli.eval import eval_  # noqa: E402
from tinylm.cli.fill_mask import fill_mask  # noqa: E402
from tinylm.cli.generate import generate  # noqa: E402
from tinylm.cli.tokenize import tokenize  # noqa: E402
from tinylm.cli.train import train  # noqa: E402

cli.add_command(tokenize)
cli.add_command(train)
cli.add_command(generate)
cli.add_command(fill_mask)
cli.add_command(eval_)
cli.add_command(compare)
cli.add_command(attention)


def main() -> None:
    """Entry point of the `tinylm` script."""
    cli(prog_name="tinylm")
