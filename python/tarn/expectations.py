"""Ready-made checks for ``@tarn.expectation`` functions.

``tarn.expectations.no_nulls(table, "fare")`` and friends return an
:class:`ExpectationResult`: truthy when the check passed, with a message
saying what was found. See :mod:`tarn._expectations` for the details.
"""

from ._expectations import (
    ExpectationResult,
    accepted_values,
    all_unique,
    max_between,
    mean_between,
    min_between,
    no_nulls,
    row_count_between,
)

__all__ = [
    "ExpectationResult",
    "no_nulls",
    "all_unique",
    "accepted_values",
    "mean_between",
    "min_between",
    "max_between",
    "row_count_between",
]
