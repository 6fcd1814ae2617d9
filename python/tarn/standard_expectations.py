"""Standard expectations: the checks data pipelines commonly state, by the
names users already write.

Each takes a table (pyarrow, pandas, polars, or anything
``tarn`` turns into Arrow) and a column, and returns an
:class:`~tarn.expectations.ExpectationResult`: truthy when the expectation
holds, with a message saying what was found. Return it from an
``@tarn.expectation`` function::

    from tarn.standard_expectations import expect_column_no_nulls

    @tarn.expectation()
    def trips_have_fares(trips=tarn.Model("trips")):
        return expect_column_no_nulls(trips, "fare")

Nulls count as values, as in the convention these names come from: a
column with two nulls is not all unique, a null is an accepted value only
if it is listed, and a null in a concatenation is an empty string. The
mean ignores nulls (of a column of nulls it is undefined, and every mean
expectation fails).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Sequence

from ._expectations import ExpectationResult, _column, _examples

__all__ = [
    "expect_column_no_nulls",
    "expect_column_some_null",
    "expect_column_all_null",
    "expect_column_all_unique",
    "expect_column_not_unique",
    "expect_column_accepted_values",
    "expect_column_mean_greater_than",
    "expect_column_mean_greater_or_equal_than",
    "expect_column_mean_smaller_than",
    "expect_column_mean_smaller_or_equal_than",
    "expect_column_equal_concatenation",
]


def expect_column_no_nulls(table: Any, column: str) -> ExpectationResult:
    """Holds when ``column`` has no null."""
    values = _column(table, column)
    n = values.null_count
    return ExpectationResult(n == 0, f"column {column} has {n} nulls (of {len(values)} rows)" if n else f"column {column} has no nulls")


def expect_column_some_null(table: Any, column: str) -> ExpectationResult:
    """Holds when ``column`` has at least one null."""
    values = _column(table, column)
    n = values.null_count
    return ExpectationResult(n > 0, f"column {column} has {n} nulls (of {len(values)} rows)" if n else f"column {column} has no null")


def expect_column_all_null(table: Any, column: str) -> ExpectationResult:
    """Holds when every value of ``column`` is null (so also for no rows)."""
    values = _column(table, column)
    others = len(values) - values.null_count
    return ExpectationResult(others == 0, f"column {column} has {others} non-null values" if others else f"column {column} is all null")


def _repeats(table: Any, column: str):
    """The values of ``column`` that appear more than once (null counts as a value), and how many rows repeat."""
    import pyarrow.compute as pc

    values = _column(table, column)
    counts = pc.value_counts(values)  # nulls are counted as one value
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    extra = int(pc.sum(repeated.field("counts")).as_py() or 0) - len(repeated) if len(repeated) else 0
    return repeated.field("values").to_pylist(), extra


def expect_column_all_unique(table: Any, column: str) -> ExpectationResult:
    """Holds when no value of ``column`` appears twice (two nulls are a repeat)."""
    repeated, extra = _repeats(table, column)
    if repeated:
        return ExpectationResult(False, f"column {column} has {extra} repeated values (e.g. {_examples(repeated)})")
    return ExpectationResult(True, f"column {column} has only unique values")


def expect_column_not_unique(table: Any, column: str) -> ExpectationResult:
    """Holds when some value of ``column`` appears at least twice (two nulls count)."""
    repeated, extra = _repeats(table, column)
    if repeated:
        return ExpectationResult(True, f"column {column} repeats {len(repeated)} values (e.g. {_examples(repeated)})")
    return ExpectationResult(False, f"column {column} has only unique values")


def expect_column_accepted_values(table: Any, column: str, accepted_values: Iterable[Any]) -> ExpectationResult:
    """Holds when every value of ``column`` is one of ``accepted_values`` (a null only if None is listed)."""
    accepted = list(accepted_values)
    values = _column(table, column).to_pylist()
    allowed = set(accepted)
    outside = [v for v in values if v not in allowed]
    if outside:
        unexpected = list(dict.fromkeys(outside))
        return ExpectationResult(False, f"column {column} has {len(outside)} values outside {_examples(accepted)}: {_examples(unexpected)}")
    return ExpectationResult(True, f"column {column} has only accepted values")


def _mean(table: Any, column: str):
    import pyarrow.compute as pc

    values = _column(table, column)
    return pc.mean(values).as_py()


def _compare_mean(table: Any, column: str, value: Any, holds: Any, words: str) -> ExpectationResult:
    mean = _mean(table, column)
    if mean is None:
        return ExpectationResult(False, f"column {column} has no non-null value: its mean is undefined")
    ok = holds(mean, value)
    return ExpectationResult(ok, f"the mean of column {column} is {mean!r}, {'' if ok else 'not '}{words} {value!r}")


def expect_column_mean_greater_than(table: Any, column: str, value: Any) -> ExpectationResult:
    """Holds when the mean of ``column`` (nulls ignored) is greater than ``value``."""
    return _compare_mean(table, column, value, lambda m, v: m > v, "greater than")


def expect_column_mean_greater_or_equal_than(table: Any, column: str, value: Any) -> ExpectationResult:
    """Holds when the mean of ``column`` (nulls ignored) is at least ``value``."""
    return _compare_mean(table, column, value, lambda m, v: m >= v, "greater than or equal to")


def expect_column_mean_smaller_than(table: Any, column: str, value: Any) -> ExpectationResult:
    """Holds when the mean of ``column`` (nulls ignored) is smaller than ``value``."""
    return _compare_mean(table, column, value, lambda m, v: m < v, "smaller than")


def expect_column_mean_smaller_or_equal_than(table: Any, column: str, value: Any) -> ExpectationResult:
    """Holds when the mean of ``column`` (nulls ignored) is at most ``value``."""
    return _compare_mean(table, column, value, lambda m, v: m <= v, "smaller than or equal to")


def expect_column_equal_concatenation(
    table: Any, target_column: str, columns: Sequence[str], separator: str = ""
) -> ExpectationResult:
    """Holds when, in every row, ``target_column`` equals the values of ``columns`` joined by ``separator``
    (each as text; a null is the empty string, in the target too)."""
    from ._arrow import to_table

    data = to_table(table)
    target = _column(data, target_column).to_pylist()
    parts = [_column(data, c).to_pylist() for c in columns]
    bad = 0
    example = None
    for i, want in enumerate(target):
        got = separator.join("" if p[i] is None else str(p[i]) for p in parts)
        if ("" if want is None else str(want)) != got:
            bad += 1
            if example is None:
                example = (i, want, got)
    if bad:
        row, want, got = example
        return ExpectationResult(
            False,
            f"{bad} rows of {target_column} are not {', '.join(columns)} joined by {separator!r}: "
            f"row {row} has {want!r}, the columns give {got!r}",
        )
    return ExpectationResult(True, f"{target_column} is the concatenation of {', '.join(columns)} in every row")
