"""Error bars for the challenge scores: bootstrap intervals over scenes (`bootstrap`), paired
comparisons of two submissions or two sets of runs (`comparison`) and breakdowns by group of
scenes (`groups`). Every public name of the three modules is importable from here.

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
    GROUP_KEYS,
    breakdown,
    chart_statistics,
    default_manifest,
    scene_groups,
)

__all__ = [
    "Bootstrap",
    "Comparison",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "GROUP_KEYS",
    "Interval",
    "LISTED_SCENES",
    "MAX_RESAMPLES",
    "MIN_RESAMPLES",
    "SCORES",
    "batch_scores",
    "bootstrap_intervals",
    "bootstrap_scores",
    "breakdown",
    "chart_statistics",
    "check_same_scenes",
    "default_manifest",
    "intervals_dict",
    "listing",
    "paired_bootstrap",
    "paired_bootstrap_runs",
    "percentile_interval",
    "resample_counts",
    "scene_groups",
    "scores_on",
    "stacked_counts",
    "verdict",
]
