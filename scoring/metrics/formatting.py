"""How scores are written out, in one place: text (`format_score`, `format_interval`,
`format_percent`) and JSON (`nan_to_none`).

A score that cannot be computed is NaN in memory and None in JSON (`nan_to_none`); in text both
read as `UNDEFINED`, never as 0. Scores print with `kit.charts.SCORE_DECIMALS` decimals, the
rounding of the challenge. This module sits at the bottom of `scoring/`: it imports nothing of
the scorer, so every scoring module may use it.
"""

from __future__ import annotations

import math

from kit.charts import SCORE_DECIMALS

#: What a score that cannot be computed (NaN or None) reads as in text.
UNDEFINED = "undefined"


def is_missing(value: float | None) -> bool:
    """Whether `value` is no score: None or NaN.

    Parameters
    ----------
    value : float or None
        A score, a bound or a share.

    Returns
    -------
    bool
        True for None and NaN.

    Examples
    --------
    >>> is_missing(None), is_missing(float("nan")), is_missing(0.0)
    (True, True, False)
    """
    return value is None or math.isnan(value)


def format_score(value: float | None, sign: bool = False, missing: str = UNDEFINED) -> str:
    """A score with the challenge's `SCORE_DECIMALS` decimals; `missing` for None or NaN.

    Parameters
    ----------
    value : float or None
        The score (or a difference of scores).
    sign : bool, default False
        Always show the sign (for differences).
    missing : str, default `UNDEFINED`
        The text of a score that cannot be computed (tables of the leaderboard use "-").

    Returns
    -------
    str
        The score as text.

    Examples
    --------
    >>> format_score(59.83305799488303), format_score(1.5, sign=True)
    ('59.833', '+1.500')
    >>> format_score(float("nan")), format_score(None), format_score(None, missing="-")
    ('undefined', 'undefined', '-')
    """
    if is_missing(value):
        return missing
    return f"{value:+.{SCORE_DECIMALS}f}" if sign else f"{value:.{SCORE_DECIMALS}f}"


def format_interval(low: float | None, high: float | None, sign: bool = False) -> str:
    """An interval as ``[low, high]`` in `format_score`'s form; `UNDEFINED` without both bounds.

    Parameters
    ----------
    low, high : float or None
        The bounds (None or NaN when the interval has none).
    sign : bool, default False
        Always show the signs (intervals of differences).

    Returns
    -------
    str
        The interval as text.

    Examples
    --------
    >>> format_interval(58.1, 61.25), format_interval(-0.5, 2.0, sign=True)
    ('[58.100, 61.250]', '[-0.500, +2.000]')
    >>> format_interval(None, 61.25), format_interval(float("nan"), float("nan"))
    ('undefined', 'undefined')
    """
    if is_missing(low) or is_missing(high):
        return UNDEFINED
    return f"[{format_score(low, sign)}, {format_score(high, sign)}]"


def format_fraction(value: float | None, digits: int = 4, missing: str = UNDEFINED) -> str:
    """A fraction (ECE, accuracy, coverage: 0-1) with `digits` decimals; `missing` for None
    or NaN.

    Examples
    --------
    >>> format_fraction(0.031234), format_fraction(None), format_fraction(1.5, 2)
    ('0.0312', 'undefined', '1.50')
    """
    return missing if is_missing(value) else f"{value:.{digits}f}"


def format_percent(share: float) -> str:
    """A share (a confidence level) as a percentage, with no more digits than it needs.

    Parameters
    ----------
    share : float
        A share between 0 and 1.

    Returns
    -------
    str
        For example "95 %".

    Examples
    --------
    >>> format_percent(0.95), format_percent(0.975)
    ('95 %', '97.5 %')
    """
    return f"{100 * share:g} %"


def plain_label(text: object) -> str:
    r"""`text` as matplotlib should draw it, as it is: a ``$`` would start mathtext.

    >>> print(plain_label("team $1"))
    team \$1
    """
    return str(text).replace("$", r"\$")


def nan_to_none(value):
    """`value` with every NaN float, at any depth of dicts and lists, replaced by None.

    JSON has no NaN: reports and comparisons store a score that cannot be computed as null.

    Parameters
    ----------
    value : object
        A float, or dicts and lists of them (and of other values, which are kept).

    Returns
    -------
    object
        The same structure (new dicts and lists) with None for each NaN.

    Examples
    --------
    >>> nan_to_none({"SIC": float("nan"), "per_scene": [1.0, float("nan")], "n": 3})
    {'SIC': None, 'per_scene': [1.0, None], 'n': 3}
    """
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nan_to_none(v) for v in value]
    return value
