"""The one error path of the library: messages that tell the user what to do."""


class TinylmError(Exception):
    """A problem with the user's data or environment; the CLI shows the message, exit code 1."""

    exit_code = 1


class UsageError(TinylmError):
    """An impossible option or argument value; the CLI shows the message, exit code 2."""

    exit_code = 2


def shorten(text: str, limit: int = 120) -> str:
    """The first line of `text`, cut to `limit` characters: fit for a one-line error."""
    text = text.strip().splitlines()[0] if text.strip() else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def first_line(e: BaseException, limit: int = 120) -> str:
    """The first line of an exception's message, short enough for a one-line error."""
    return shorten(str(e), limit) or type(e).__name__
