"""The one error path of the library: messages that tell the user what to do."""


class TinylmError(Exception):
    """A problem with the user's data or environment; the CLI shows the message, exit code 1."""

    exit_code = 1


class UsageError(TinylmError):
    """An impossible option or argument value; the CLI shows the message, exit code 2."""

    exit_code = 2
