"""The scorer's user-facing error: a bad submission, reference or leaderboard request.

`ScoringError` is a `kit.errors.KitError` (so a `ValueError`): the `autoice` command line prints
it as one line and exits with status 2, and no leaderboard score is recorded for the submission
that raised it.
"""

from kit.errors import KitError


class ScoringError(KitError):
    """Bad input to the scorer, named with its file, variable or argument and the problem."""


def failure_reason(exc: BaseException) -> str:
    """One line saying why scoring failed, as the leaderboard records it: a `ScoringError`'s
    message, or for a crash (a bug, or a file the checks missed) its type and first line."""
    lines = (line.strip() for line in str(exc).splitlines())
    first = next((line for line in lines if line), "")
    if isinstance(exc, ScoringError):
        return first or "invalid submission"
    return f"scorer error ({type(exc).__name__}){': ' + first if first else ''}"
