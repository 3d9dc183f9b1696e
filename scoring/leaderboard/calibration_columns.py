"""The calibration columns of a leaderboard (issue 24): the figures of the uncertainty file a
submission may come with, shown beside the scores and never used to rank.

Per chart the ECE (10 equal-width confidence bins, `scoring.calibration.calibration_errors`),
and the SIC 90 % predictive interval's coverage and mean width (`interval_summary`), each
computed on the scenes the scores of the same split cover. There is no combined ECE: the charts
have different classes and confidences, and a weighted mean of ECEs measures nothing a user can
act on. The keys (`CALIBRATION_KEYS`) are the same in the leaderboard file, its exports and
Codabench's ``scores.json``.

Examples
--------
>>> CALIBRATION_KEYS
('ECE_SIC', 'ECE_SOD', 'ECE_FLOE', 'SIC_coverage', 'SIC_width')
>>> calibration_label("ECE_SOD"), calibration_label("SIC_coverage")
('ECE SOD', 'SIC 90 % coverage')
"""

from __future__ import annotations

from collections.abc import Mapping

from kit.charts import CHARTS, SIC_INTERVAL_PROBABILITY
from scoring.metrics.formatting import format_percent

#: One key per chart's ECE, then the SIC interval's coverage and mean width (classes).
CALIBRATION_KEYS: tuple[str, ...] = (*(f"ECE_{c}" for c in CHARTS), "SIC_coverage", "SIC_width")


def calibration_figures(report) -> dict[str, float | None]:
    """The calibration columns of a `Report` (or its JSON dictionary, or its ``calibration``
    result) scored with an uncertainty file: `CALIBRATION_KEYS` -> value (None where
    undefined, e.g. no pixel); every value None when it has no calibration.

    Examples
    --------
    >>> calibration = {"charts": {c: {"ece": 0.05} for c in CHARTS},
    ...                "sic_interval": {"coverage": 0.875, "mean_width": 1.5}}
    >>> calibration_figures({"calibration": calibration})["SIC_coverage"]
    0.875
    >>> set(calibration_figures({}).values())
    {None}
    """
    if hasattr(report, "statistics"):
        result = report.statistics.get("calibration")
    elif isinstance(report, Mapping) and "charts" in report and "sic_interval" in report:
        result = report
    else:
        result = report.get("calibration") if isinstance(report, Mapping) else None
    if not result:
        return dict.fromkeys(CALIBRATION_KEYS)
    figures = {f"ECE_{c}": result["charts"][c].get("ece") for c in CHARTS}
    interval = result["sic_interval"]
    figures["SIC_coverage"] = interval.get("coverage")
    figures["SIC_width"] = interval.get("mean_width")
    return {key: _plain(figures[key]) for key in CALIBRATION_KEYS}


def calibration_label(key: str) -> str:
    """A calibration column's header for people."""
    if key.startswith("ECE_"):
        return f"ECE {key[4:]}"
    level = format_percent(SIC_INTERVAL_PROBABILITY)
    return {"SIC_coverage": f"SIC {level} coverage", "SIC_width": "SIC interval width"}[key]


def calibration_note() -> str:
    """What the calibration columns are, for the caption of a table."""
    level = format_percent(SIC_INTERVAL_PROBABILITY)
    return (
        "Calibration, from the uncertainty file a submission came with, on the same scenes as "
        "the scores: ECE per chart (10 equal-width confidence bins; 0 is perfect), and the share "
        f"of SIC pixels whose reference class lies in the submitted {level} interval ({level} "
        "is ideal) with its mean width in classes. Not used for the ranking; '-' where a "
        "submission came without one."
    )


def _plain(value) -> float | None:
    return None if value is None else float(value)
