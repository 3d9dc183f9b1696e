"""Why a drift vector is invalid: one code per vector, decided where the check is made.

The codes are those the trackers can actually tell apart; `track` keeps the first failing check
in the order below (a vector without data is not also called weak). They are written to the
product as a CF flag variable (`flag_values` / `flag_meanings`).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Reason(IntEnum):
    """Reason codes of `DriftResult.reason` (0 = valid)."""

    #: The vector passed every check.
    VALID = 0
    #: The point, its template or its end position lies off the image or on no-data pixels.
    NO_DATA = 1
    #: The template has (almost) no variance: nothing to correlate.
    NO_TEXTURE = 2
    #: No feature match or learned match around the point (`ft`: not surrounded by matches or
    #: no matches at all; `superlim`: no candidate inside the search radius).
    NO_MATCH = 3
    #: The best correlation is on the border of the searched area (or next to no data): the
    #: true match is probably outside the window.
    BORDER_PEAK = 4
    #: The peak correlation (or descriptor similarity) is below the minimum.
    WEAK_PEAK = 5
    #: A rival peak of nearly the same height: the match is ambiguous.
    AMBIGUOUS_PEAK = 6
    #: The vector disagrees with its neighbours, or the match is not mutual (`superlim`).
    INCONSISTENT = 7


#: CF ``flag_meanings``, in the order of ``flag_values`` 0, 1, ...
FLAG_MEANINGS = " ".join(r.name.lower() for r in Reason)


def first_failure(checks: list[tuple[Reason, np.ndarray]], n: int) -> np.ndarray:
    """Reason code per vector: the first of `checks` (reason, passed mask) that fails.

    Parameters
    ----------
    checks : list of (Reason, numpy.ndarray)
        The checks in order of precedence, each with a boolean mask of the vectors that pass.
    n : int
        Number of vectors.

    Returns
    -------
    numpy.ndarray
        uint8 codes, `Reason.VALID` where every check passes.

    Examples
    --------
    >>> first_failure([(Reason.NO_DATA, np.array([True, False])),
    ...                (Reason.WEAK_PEAK, np.array([False, False]))], 2).tolist()
    [5, 1]
    """
    reason = np.zeros(n, np.uint8)
    for code, passed in reversed(checks):
        reason[~np.asarray(passed, bool)] = code
    return reason
