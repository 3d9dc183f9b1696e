"""The kit's user-facing error: bad input named with its file or argument and the problem."""


class KitError(ValueError):
    """Bad input (file, argument, configuration). The CLI prints it as one line, exit status 2."""
