"""The `tinylm` command line: parse options, call the library, render results, map errors.

Heavy modules (torch, tokenizers, numpy) are imported inside commands so `--help` stays instant.
"""

from __future__ import annotations

import errno
import sys

import click

from tinylm import __version__
from tinylm.errors import TinylmError, first_line, shorten

# errors of a write that cannot succeed here; any other OSError names what failed and why
FULL_OR_READ_ONLY = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


class TinylmGroup(click.Group):
    """A group that turns library errors into one clear line and the right exit code.

    Exit 1: the data or the environment (TinylmError, an OSError, memory); exit 2: an impossible
    option or argument (UsageError, click's own checks). A mistake of the user's should reach
    here as one of those; anything else is a bug in tinylm and keeps its traceback.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TinylmError as e:
            raise _one_line(str(e), e.exit_code) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except OSError as e:
            raise _one_line(_os_message(e), 1) from None
        except (MemoryError, RuntimeError) as e:
            if not _out_of_memory(e):
                raise
            raise _one_line(
                f"out of memory ({first_line(e)}); use a smaller model, batch or input.", 1
            ) from None


def _one_line(message: str, exit_code: int) -> click.ClickException:
    """A ClickException that prints `message` on one line (a path may hold a newline)."""
    err = click.ClickException(" ".join(message.splitlines()))
    err.exit_code = exit_code
    return err


def _os_message(e: OSError) -> str:
    """What an OSError that no command turned into a TinylmError says: the file, the reason."""
    where = f" ({shorten(str(e.filename))})" if e.filename else ""
    if e.errno in FULL_OR_READ_ONLY:
        return f"cannot write{where}: {e.strerror}."
    return f"{e.strerror or first_line(e)}{where}."


def _out_of_memory(e: BaseException) -> bool:
    """A failed allocation: MemoryError, torch's OutOfMemoryError, or its CPU allocator's error."""
    torch = sys.modules.get("torch")  # not imported here: `tinylm --help` stays instant
    if isinstance(e, MemoryError) or (torch is not None and isinstance(e, torch.OutOfMemoryError)):
        return True
    return "can't allocate memory" in str(e)  # DefaultCPUAllocator raises a plain RuntimeError


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
from tinylm.cli.export import export  # noqa: E402
from tinylm.cli.fill_mask import fill_mask  # noqa: E402
from tinylm.cli.generate import generate  # noqa: E402
from tinylm.cli.plot import plot  # noqa: E402
from tinylm.cli.probe import probe  # noqa: E402
from tinylm.cli.serve import serve  # noqa: E402
from tinylm.cli.tokenize import tokenize  # noqa: E402
from tinylm.cli.train import train  # noqa: E402

cli.add_command(tokenize)
cli.add_command(train)
cli.add_command(generate)
cli.add_command(fill_mask)
cli.add_command(eval_)
cli.add_command(compare)
cli.add_command(attention)
cli.add_command(probe)
cli.add_command(plot)
cli.add_command(export)
cli.add_command(serve)


def main() -> None:
    """Entry point of the `tinylm` script."""
    cli(prog_name="tinylm")
