"""The kit's user-facing error: bad input named with its file or argument and the problem."""

from collections.abc import Iterator
from contextlib import contextmanager


class KitError(ValueError):
    """Bad input (file, argument, configuration). The CLI prints it as one line, exit status 2."""


def reason(exc: BaseException) -> str:
    """The first non-empty line of an error message (or the error's type), for one-line errors."""
    lines = (line.strip() for line in str(exc).splitlines())
    return next((line for line in lines if line), type(exc).__name__)


def one_line(exc: BaseException) -> str:
    """The whole message of `exc` on one line (a library's may span several): what the CLI
    prints, where `reason` keeps only the first line to quote inside another message."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())


@contextmanager
def named(source: str | None) -> Iterator[None]:
    """Put `source: ` (a file, a setting) in front of a KitError raised in the block, unless its
    message already starts with it, so every error about a file names that file once. With no
    `source` (None or empty) errors pass unchanged.

    Examples
    --------
    >>> with named("plan.yaml"):
    ...     raise KitError("cell_timeout: expected an integer, got 'soon'")
    Traceback (most recent call last):
    ...
    kit.errors.KitError: plan.yaml: cell_timeout: expected an integer, got 'soon'
    """
    try:
        yield
    except KitError as exc:
        message = str(exc)
        if not source or message.startswith(source):
            raise
        raise type(exc)(f"{source}: {message}") from None
