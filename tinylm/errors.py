"""The one error path of the library: messages that tell the user what to do."""


class TinylmError(Exception):
    """A problem with the user's data or environment; the CLI shows the message, exit code 1."""

    exit_code = 1


class UsageError(TinylmError):
    """An impossible option or argument value; the CLI shows the message, exit code 2."""

    exit_code = 2


def first_line(e: BaseException, limit: int = 120) -> str:
    """The first line of an exception's message, short enough for a one-line error."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
