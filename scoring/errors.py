"""The scorer's user-facing error: a bad submission, reference or leaderboard request.

`ScoringError` is a `ValueError`, so the `autoice` command line prints it as one line and exits
with status 2, and no leaderboard score is recorded for the submission that raised it.
"""


class ScoringError(ValueError):
    """Bad input to the scorer, named with its file, variable or argument and the problem."""
