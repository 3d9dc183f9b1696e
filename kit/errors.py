"""The kit's user-facing error: bad input named with its file or argument and the problem."""


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
