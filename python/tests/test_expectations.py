"""tarn.expectations helpers: truthy on pass, falsy on failure, with a message either way."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

import tarn
from conftest import requires
from tarn.expectations import (
    ExpectationResult,
    accepted_values,
    all_unique,
    max_between,
    mean_between,
    min_between,
    no_nulls,
    row_count_between,
)

TRIPS = pa.table(
    {
        "id": [1, 2, 3, 3, 4, None],
        "fare": [10.0, None, 30.0, None, None, 20.0],
        "zone": ["a", "b", "a", "c", None, "x"],
        "day": [dt.date(2024, 1, d) for d in range(1, 7)],
    }
)


@pytest.mark.parametrize(
    "result, passed, message",
    [
        (no_nulls(TRIPS, "zone"), False, "column zone has 1 nulls (of 6 rows)"),
        (no_nulls(TRIPS, "fare"), False, "column fare has 3 nulls (of 6 rows)"),
        (no_nulls(TRIPS.slice(0, 1), "fare"), True, "column fare has no nulls"),
        (all_unique(TRIPS, "id"), False, "column id has 1 duplicate values (1 values repeated, e.g. 3)"),
        (all_unique(TRIPS, "day"), True, "column day has only unique values"),
        (accepted_values(TRIPS, "zone", ["a", "b", "c"]), False, "column zone has 1 values outside 'a', 'b', 'c': 'x'"),
        (accepted_values(TRIPS, "zone", ["a", "b", "c", "x"]), True, "column zone has only accepted values"),
        (mean_between(TRIPS, "fare", min=10, max=25), True, "mean of fare is 20.0, between 10 and 25"),
        (mean_between(TRIPS, "fare", max=15), False, "mean of fare is 20.0, expected at most 15"),
        (min_between(TRIPS, "fare", min=0), True, "min of fare is 10.0, at least 0"),
        (
            min_between(TRIPS, "day", min=dt.date(2024, 1, 2)),
            False,
            "min of day is datetime.date(2024, 1, 1), expected at least datetime.date(2024, 1, 2)",
        ),
        (max_between(TRIPS, "id", min=1, max=3), False, "max of id is 4, expected between 1 and 3"),
        (max_between(TRIPS, "id", max=4), True, "max of id is 4, at most 4"),
        (row_count_between(TRIPS, min=1, max=10), True, "table has 6 rows, between 1 and 10"),
        (row_count_between(TRIPS, min=7), False, "table has 6 rows, expected at least 7"),
        (mean_between(TRIPS.slice(1, 1), "fare", min=0), False, "column fare has no non-null values, so no mean"),
    ],
)
def test_helpers(result, passed, message):
    assert isinstance(result, ExpectationResult)
    assert bool(result) is passed
    assert result.message == message


def test_result_repr_and_str():
    result = ExpectationResult(passed=False, message="column fare has 3 nulls")
    assert repr(result) == "ExpectationResult(passed=False, message='column fare has 3 nulls')"
    assert str(result) == "column fare has 3 nulls"
    assert not result
    assert tarn.ExpectationResult is ExpectationResult


def test_many_unexpected_values_are_abbreviated():
    table = pa.table({"v": list(range(20))})
    result = accepted_values(table, "v", [0])
    assert not result
    assert result.message == "column v has 19 values outside 0: 1, 2, 3, 4, 5, ..."


def test_missing_column_is_an_error_not_a_failure():
    with pytest.raises(ValueError, match="table has no column 'nope'"):
        no_nulls(TRIPS, "nope")


def test_bounds_required():
    with pytest.raises(ValueError, match="give min=, max= or both"):
        mean_between(TRIPS, "fare")


def test_accepts_record_batches_and_dicts():
    assert no_nulls(TRIPS.to_batches()[0], "id").passed is False
    assert all_unique({"a": [1, 2]}, "a").passed is True


@requires("pandas")
def test_accepts_pandas():
    import pandas as pd

    assert not no_nulls(pd.DataFrame({"a": [1.0, None]}), "a")


@requires("polars")
def test_accepts_polars():
    import polars as pl

    assert all_unique(pl.DataFrame({"a": [1, 2, 3]}), "a")
