"""Scoring drift: end-point error against known truth, and forward-backward consistency.

End-point error (EPE) is the distance between the estimated and the true position in image 2.
Only points that can be matched at all are scored: their template lies on data in image 1 and
their true position's template footprint lies on data in image 2. Statistics are given for the
vectors a method marks valid and for all scored points (a point without a vector counts as an
infinitely wrong one), plus how often the invalid points were indeed wrong (EPE > 3 px).

Real pairs have no truth: there the field is tracked forward, then backward from the forward
end points, and the distance between the start and the round-trip end is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from kit.drift.track import DriftResult, track

WRONG_PX = 3.0


def endpoint_error(u, v, u_true, v_true) -> np.ndarray:
    """Euclidean distance between estimated and true displacements (NaN where either is NaN)."""
    return np.hypot(np.asarray(u) - np.asarray(u_true), np.asarray(v) - np.asarray(v_true))


@dataclass
class EPEStats:
    """Summary of end-point errors (px); a NaN error (no vector) counts as infinitely wrong."""

    n: int
    median: float
    p90: float
    under_1px: float
    under_3px: float

    @classmethod
    def of(cls, epe: np.ndarray) -> EPEStats:
        epe = np.where(np.isnan(epe), np.inf, np.asarray(epe, dtype=np.float64))
        if epe.size == 0:
            return cls(0, np.nan, np.nan, np.nan, np.nan)
        med, p90 = np.percentile(epe, [50, 90], method="lower")
        return cls(
            int(epe.size), float(med), float(p90), float((epe < 1).mean()), float((epe < 3).mean())
        )


@dataclass
class Evaluation:
    """Scores of one method on one pair with known truth."""

    method: str
    seconds: float
    n_points: int
    fraction_valid: float
    valid: EPEStats
    all: EPEStats
    invalid_that_are_wrong: float
    valid_that_are_wrong: float

    def row(self) -> dict:
        """Flat dict for tables and JSON."""
        out = {k: v for k, v in asdict(self).items() if k not in ("valid", "all")}
        out.update({f"valid_{k}": v for k, v in asdict(self.valid).items()})
        out.update({f"all_{k}": v for k, v in asdict(self.all).items()})
        return out


def footprint_on_data(image: np.ndarray, x, y, size: int) -> np.ndarray:
    """Whether the size x size window centred on each (x, y) lies inside the image on data."""
    ok = ndimage.minimum_filter(
        np.isfinite(image).astype(np.uint8), size=size, mode="constant", cval=0
    )
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    finite = np.isfinite(x) & np.isfinite(y)
    col = np.where(finite, np.round(x), -1).astype(np.int64)
    row = np.where(finite, np.round(y), -1).astype(np.int64)
    inside = finite & (col >= 0) & (row >= 0) & (col < image.shape[1]) & (row < image.shape[0])
    out = np.zeros(x.shape, bool)
    out[inside] = ok[row[inside], col[inside]] > 0
    return out


def scored_errors(
    result: DriftResult, truth: Callable, image1: np.ndarray, image2: np.ndarray, template: int = 35
) -> tuple[np.ndarray, np.ndarray]:
    """End-point errors and validity of the matchable points (see the module docstring)."""
    tu, tv = truth(result.x, result.y)
    scored = footprint_on_data(image1, result.x, result.y, template) & footprint_on_data(
        image2, result.x + tu, result.y + tv, template
    )
    return endpoint_error(result.u, result.v, tu, tv)[scored], result.valid[scored]


def summarise(method: str, seconds: float, epe: np.ndarray, valid: np.ndarray) -> Evaluation:
    """Evaluation from the errors and validity of scored points (possibly pooled over pairs)."""
    wrong = ~(epe <= WRONG_PX)
    return Evaluation(
        method=method,
        seconds=seconds,
        n_points=int(epe.size),
        fraction_valid=float(valid.mean()) if valid.size else np.nan,
        valid=EPEStats.of(epe[valid]),
        all=EPEStats.of(epe),
        invalid_that_are_wrong=float(wrong[~valid].mean()) if (~valid).any() else np.nan,
        valid_that_are_wrong=float(wrong[valid].mean()) if valid.any() else np.nan,
    )


def evaluate(
    result: DriftResult, truth: Callable, image1: np.ndarray, image2: np.ndarray, template: int = 35
) -> Evaluation:
    """Score a drift result against `truth(x, y) -> (u, v)` by its end-point errors.

    Only matchable points are scored (see the module docstring); the statistics are given for
    the vectors the method marks valid and for all scored points.

    Parameters
    ----------
    result : DriftResult
        What `track` returned for the pair.
    truth : callable
        ``truth(x, y) -> (u, v)``, the true displacement at image-1 positions
        (``SyntheticPair.truth``).
    image1, image2 : numpy.ndarray
        The tracked images (NaN = no data), to find the matchable points.
    template : int
        Template side (px) a point's footprint must find on data in both images.

    Returns
    -------
    Evaluation
        Points scored, fraction valid, `EPEStats` of the valid and of all scored vectors, and
        how often invalid and valid vectors are wrong (end-point error over 3 px).

    Examples
    --------
    >>> from kit.drift.synthetic import DisplacementField, make_pair
    >>> pair = make_pair(displacement=DisplacementField((128, 128), translation=(5.0, -3.0)),
    ...                  shape=(128, 128), seed=0)
    >>> result = track(pair.image1, pair.image2, "pm", grid_step=32, search=8)
    >>> scores = evaluate(result, pair.truth, pair.image1, pair.image2)
    >>> scores.method, scores.n_points, scores.valid.n, scores.valid.under_1px
    ('pm', 6, 4, 1.0)
    >>> sorted(scores.row())[:4]
    ['all_median', 'all_n', 'all_p90', 'all_under_1px']
    """
    epe, valid = scored_errors(result, truth, image1, image2, template)
    return summarise(result.method, result.seconds, epe, valid)


@dataclass
class Consistency:
    """Forward-backward consistency of one method on a real pair (px)."""

    method: str
    seconds: float
    n_points: int
    fraction_valid: float
    fraction_valid_both: float
    median: float
    p90: float
    under_1px: float

    def row(self) -> dict:
        return asdict(self)


def forward_backward(
    image1, image2, method: str = "ft+pm", points=None, geo1=None, geo2=None, **params
) -> Consistency:
    """Track forward, then backward from the forward end points; the round-trip miss distance
    of points valid both ways measures consistency (zero for a perfectly consistent method).
    With both geolocations, `pm` starts from the no-motion guess they give."""
    fwd = track(image1, image2, method, points, geo1=geo1, geo2=geo2, **params)
    ok = fwd.valid
    end = (fwd.x[ok] + fwd.u[ok], fwd.y[ok] + fwd.v[ok])
    bwd = track(image2, image1, method, end, geo1=geo2, geo2=geo1, **params)
    miss = np.hypot(fwd.u[ok] + bwd.u, fwd.v[ok] + bwd.v)[bwd.valid]
    med, p90 = np.percentile(miss, [50, 90]) if miss.size else (np.nan, np.nan)
    return Consistency(
        method=method,
        seconds=fwd.seconds + bwd.seconds,
        n_points=int(fwd.x.size),
        fraction_valid=float(ok.mean()),
        fraction_valid_both=float(bwd.valid.sum() / fwd.x.size),
        median=float(med),
        p90=float(p90),
        under_1px=float((miss < 1).mean()) if miss.size else np.nan,
    )


def format_table(rows: list[dict], columns: list[str]) -> str:
    """A fixed-width text table of selected columns (floats with 3 decimals)."""

    def cell(value) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    body = [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(lines)
