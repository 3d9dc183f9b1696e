"""Error bars for the challenge scores: bootstrap intervals over scenes (`bootstrap`, and the
``intervals`` score statistic with its options in `intervals`), paired comparisons of two
submissions or two sets of runs (`comparison`) and breakdowns by group of scenes (`groups`,
the ``breakdowns`` score statistic). Every public name of these modules is importable from
here; importing the package registers the score statistics (`scoring.registry`).

Examples
--------
>>> from scoring.statistics import Bootstrap, verdict
>>> Bootstrap().resamples
2000
"""

from __future__ import annotations

from scoring.metrics.report import SCORES
from scoring.statistics.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    LISTED_SCENES,
    MAX_RESAMPLES,
    MIN_RESAMPLES,
    Bootstrap,
    Interval,
    batch_scores,
    bootstrap_intervals,
    bootstrap_scores,
    intervals_dict,
    listing,
    percentile_interval,
    resample_counts,
    scores_on,
    stacked_counts,
)
from scoring.statistics.comparison import (
    Comparison,
    check_same_scenes,
    paired_bootstrap,
    paired_bootstrap_runs,
    verdict,
)
from scoring.statistics.groups import (
    BREAKDOWNS,
    GROUP_KEYS,
    BreakdownRequest,
    breakdown,
    breakdown_request,
    breakdown_table,
    breakdowns_table,
    chart_statistics,
    check_breakdowns,
    default_manifest,
    scene_groups,
    score_breakdowns,
)
from scoring.statistics.intervals import (
    BOOTSTRAP_OPTIONS,
    INTERVALS,
    add_bootstrap_arguments,
    bootstrap_settings,
    interval_request,
    score_intervals,
)

__all__ = [
    "BOOTSTRAP_OPTIONS",
    "BREAKDOWNS",
    "CALIBRATION",
    "Bootstrap",
    "BreakdownRequest",
    "CalibrationFiles",
    "Comparison",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "GROUP_KEYS",
    "INTERVALS",
    "Interval",
    "LISTED_SCENES",
    "MAX_RESAMPLES",
    "MIN_RESAMPLES",
    "SCORES",
    "add_bootstrap_arguments",
    "batch_scores",
    "bootstrap_intervals",
    "bootstrap_scores",
    "bootstrap_settings",
    "breakdown",
    "breakdown_request",
    "breakdown_table",
    "breakdowns_table",
    "chart_statistics",
    "check_breakdowns",
    "check_same_scenes",
    "default_manifest",
    "interval_request",
    "intervals_dict",
    "listing",
    "paired_bootstrap",
    "paired_bootstrap_runs",
    "percentile_interval",
    "resample_counts",
    "scene_groups",
    "score_breakdowns",
    "score_intervals",
    "scores_on",
    "stacked_counts",
    "verdict",
]

# The calibration of an uncertainty file (issue 24), a family of its own in scoring/calibration/,
# registered after intervals and breakdowns (it follows their requests). Imported last: its
# figures import this package's modules, and its registration module imports them only when
# it computes.
from scoring.calibration.statistic import CALIBRATION, CalibrationFiles  # noqa: E402
