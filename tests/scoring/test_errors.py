"""scoring.errors: ScoringError is the kit's KitError; failure_reason tells bad input from crashes."""

import pytest

from kit.errors import KitError
from scoring.errors import ScoringError, failure_reason


def test_scoring_error_is_a_kit_error_and_a_value_error():
    assert issubclass(ScoringError, KitError) and issubclass(ScoringError, ValueError)
    with pytest.raises(KitError, match="^submission x.nc: no such file$"):
        raise ScoringError("submission x.nc: no such file")


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (ScoringError("\n  submission x.nc: bad\nmore"), "submission x.nc: bad"),
        (ScoringError(""), "invalid submission"),
        (KitError("x.nc: bad"), "scorer error (KitError): x.nc: bad"),  # not the scorer's own
        (
            IndexError("list index out of range"),
            "scorer error (IndexError): list index out of range",
        ),
        (RuntimeError(), "scorer error (RuntimeError)"),
    ],
)
def test_failure_reason(exc, reason):
    assert failure_reason(exc) == reason
