"""Ready-made checks for ``@tarn.expectation`` functions (public as ``tarn.expectations``).

Each helper takes a table (a ``pyarrow.Table`` or anything
``tarn._arrow.to_table`` converts: pandas, polars, record batches, ...) and
returns an :class:`ExpectationResult`, which is truthy when the check passed
and carries a message either way::

    @tarn.expectation()
    def fares_present(trips=tarn.Model("clean_trips")):
        return tarn.expectations.no_nulls(trips, "fare")

Null values are ignored by ``all_unique`` and ``accepted_values`` (as in SQL
and dbt) and counted by ``no_nulls``. A column that does not exist is an
error (``ValueError``), not a failed check. pyarrow is imported on first use.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~2 ms of worker start-up; annotations are never evaluated
    from typing import Any, Iterable, Optional, Tuple

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

_EXAMPLES = 5


class ExpectationResult:
    """The outcome of a check: ``bool(result)`` is ``passed``; ``message`` says why."""

    __slots__ = ("passed", "message")

    def __init__(self, passed: bool, message: str = "") -> None:
        self.passed = bool(passed)
        self.message = message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"ExpectationResult(passed={self.passed!r}, message={self.message!r})"

    def __str__(self) -> str:
        return self.message or ("passed" if self.passed else "failed")


def _column(table: Any, column: str) -> Any:
    from ._arrow import to_table

    table = to_table(table)
    if column not in table.column_names:
        raise ValueError(f"table has no column {column!r} (columns: {', '.join(table.column_names)})")
    return table.column(column)


def _examples(values: Iterable[Any]) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:_EXAMPLES])
    return shown + (", ..." if len(values) > _EXAMPLES else "")


def _check_bounds(min: Any, max: Any) -> None:  # noqa: A002 - public keyword names
    if min is None and max is None:
        raise ValueError("give min=, max= or both")


def _describe_bounds(min: Any, max: Any) -> str:  # noqa: A002
    if min is not None and max is not None:
        return f"between {min!r} and {max!r}"
    return f"at least {min!r}" if min is not None else f"at most {max!r}"


def _within(value: Any, min: Any, max: Any) -> bool:  # noqa: A002
    return (min is None or value >= min) and (max is None or value <= max)


def no_nulls(table: Any, column: str) -> ExpectationResult:
    """Pass when ``column`` has no null values."""
    values = _column(table, column)
    nulls = values.null_count
    if nulls:
        return ExpectationResult(False, f"column {column} has {nulls} nulls (of {len(values)} rows)")
    return ExpectationResult(True, f"column {column} has no nulls")


def all_unique(table: Any, column: str) -> ExpectationResult:
    """Pass when no non-null value of ``column`` appears twice."""
    import pyarrow.compute as pc

    values = _column(table, column)
    counts = pc.value_counts(values.drop_null())
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(repeated):
        duplicates = int(pc.sum(repeated.field("counts")).as_py()) - len(repeated)
        return ExpectationResult(
            False,
            f"column {column} has {duplicates} duplicate values "
            f"({len(repeated)} values repeated, e.g. {_examples(repeated.field('values').to_pylist())})",
        )
    return ExpectationResult(True, f"column {column} has only unique values")


def accepted_values(table: Any, column: str, values: Iterable[Any]) -> ExpectationResult:
    """Pass when every non-null value of ``column`` is one of ``values``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    data = _column(table, column)
    accepted = list(values)
    try:
        value_set = pa.array(accepted, type=data.type)
    except (pa.ArrowException, TypeError, ValueError):
        value_set = pa.array(accepted)
    present = data.drop_null()
    outside = present.filter(pc.invert(pc.is_in(present, value_set=value_set)))
    if len(outside):
        unexpected = pc.unique(outside).to_pylist()
        return ExpectationResult(
            False,
            f"column {column} has {len(outside)} values outside {_examples(accepted)}: {_examples(unexpected)}",
        )
    return ExpectationResult(True, f"column {column} has only accepted values")


def _aggregate_between(
    table: Any,
    column: str,
    what: str,
    compute: Any,
    min: Any,
    max: Any,  # noqa: A002
) -> ExpectationResult:
    _check_bounds(min, max)
    values = _column(table, column)
    value = compute(values)
    if value is None:
        return ExpectationResult(False, f"column {column} has no non-null values, so no {what}")
    bounds = _describe_bounds(min, max)
    if _within(value, min, max):
        return ExpectationResult(True, f"{what} of {column} is {value!r}, {bounds}")
    return ExpectationResult(False, f"{what} of {column} is {value!r}, expected {bounds}")


def mean_between(table: Any, column: str, min: Any = None, max: Any = None) -> ExpectationResult:  # noqa: A002
    """Pass when the mean of ``column`` (nulls ignored) is within ``[min, max]``."""
    import pyarrow.compute as pc

    return _aggregate_between(table, column, "mean", lambda v: pc.mean(v).as_py(), min, max)


def min_between(table: Any, column: str, min: Any = None, max: Any = None) -> ExpectationResult:  # noqa: A002
    """Pass when the smallest value of ``column`` is within ``[min, max]``."""
    import pyarrow.compute as pc

    return _aggregate_between(table, column, "min", lambda v: pc.min_max(v)["min"].as_py(), min, max)


def max_between(table: Any, column: str, min: Any = None, max: Any = None) -> ExpectationResult:  # noqa: A002
    """Pass when the largest value of ``column`` is within ``[min, max]``."""
    import pyarrow.compute as pc

    return _aggregate_between(table, column, "max", lambda v: pc.min_max(v)["max"].as_py(), min, max)


def row_count_between(table: Any, min: Optional[int] = None, max: Optional[int] = None) -> ExpectationResult:  # noqa: A002
    """Pass when the table has between ``min`` and ``max`` rows (inclusive)."""
    from ._arrow import to_table

    _check_bounds(min, max)
    rows = to_table(table).num_rows
    bounds = _describe_bounds(min, max)
    if _within(rows, min, max):
        return ExpectationResult(True, f"table has {rows} rows, {bounds}")
    return ExpectationResult(False, f"table has {rows} rows, expected {bounds}")


# How the worker judges what an @tarn.expectation function returned.


class AssertionFailed:
    """Stands for the return value of an expectation whose assert failed."""

    def __init__(self, message: str) -> None:
        self.message = message


def verdict(value: Any) -> Tuple[bool, str]:
    """Whether an expectation's return value passes, and a message (used by the worker)."""
    import pyarrow as pa

    if isinstance(value, AssertionFailed):
        return False, value.message
    if isinstance(value, ExpectationResult):
        return value.passed, value.message
    if value is None:
        return False, "returned None; return True/False or a tarn.expectations result (after asserts: return True)"
    if isinstance(value, pa.Scalar):
        value = value.as_py()
        if value is None:
            return False, "returned a null value"
    if isinstance(value, (pa.Array, pa.ChunkedArray)) and pa.types.is_boolean(value.type):
        import pyarrow.compute as pc

        failed = len(value) - (pc.sum(pc.fill_null(value, False)).as_py() or 0)
        if failed:
            return False, f"{failed} of {len(value)} rows are false or null"
        return True, f"all {len(value)} rows are true"
    try:
        passed = bool(value)
    except ValueError as exc:  # e.g. a pandas Series: "truth value ... is ambiguous"
        raise TypeError(
            f"expectation returned a {type(value).__name__} whose truth value is ambiguous; "
            f"return a bool, e.g. series.all() ({exc})"
        ) from None
    return passed, "" if passed else f"returned {value!r}"
