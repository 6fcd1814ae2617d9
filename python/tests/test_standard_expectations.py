"""tarn.standard_expectations: the names and semantics users write (nulls count as values)."""

import pyarrow as pa
import pytest

from tarn import standard_expectations as se

T = pa.table(
    {
        "id": [1, 2, 3, 4],
        "dup": [1, 1, 2, None],
        "nulls2": [None, None, 1, 2],
        "allnull": pa.array([None, None, None, None], type=pa.int64()),
        "zone": ["a", "b", None, "a"],
        "fare": [10.0, 20.0, None, 30.0],
        "first": ["x", "y", None, "w"],
        "last": ["1", "2", "3", None],
        "full": ["x-1", "y-2", "-3", "w-"],
    }
)


@pytest.mark.parametrize(
    "check, args, holds",
    [
        (se.expect_column_no_nulls, ("id",), True),
        (se.expect_column_no_nulls, ("zone",), False),
        (se.expect_column_some_null, ("zone",), True),
        (se.expect_column_some_null, ("id",), False),
        (se.expect_column_all_null, ("allnull",), True),
        (se.expect_column_all_null, ("zone",), False),
        (se.expect_column_all_unique, ("id",), True),
        (se.expect_column_all_unique, ("dup",), False),
        (se.expect_column_all_unique, ("nulls2",), False),  # two nulls are a repeat
        (se.expect_column_not_unique, ("nulls2",), True),
        (se.expect_column_not_unique, ("id",), False),
        (se.expect_column_accepted_values, ("zone", ["a", "b", None]), True),
        (se.expect_column_accepted_values, ("zone", ["a", "b"]), False),  # a null must be listed
        (se.expect_column_mean_greater_than, ("fare", 19.9), True),
        (se.expect_column_mean_greater_than, ("fare", 20.0), False),
        (se.expect_column_mean_greater_or_equal_than, ("fare", 20.0), True),
        (se.expect_column_mean_smaller_than, ("fare", 20.0), False),
        (se.expect_column_mean_smaller_or_equal_than, ("fare", 20.0), True),
        (se.expect_column_mean_greater_than, ("allnull", 0), False),  # no mean
        (se.expect_column_equal_concatenation, ("full", ["first", "last"], "-"), True),
        (se.expect_column_equal_concatenation, ("full", ["first", "last"]), False),
    ],
)
def test_standard_expectations(check, args, holds):
    result = check(T, *args)
    assert bool(result) is holds, result.message
    assert result.message


def test_unknown_column_is_an_error():
    with pytest.raises(ValueError, match="no column 'nope'"):
        se.expect_column_no_nulls(T, "nope")


def test_pandas_tables():
    pandas = pytest.importorskip("pandas")
    assert se.expect_column_all_unique(pandas.DataFrame({"a": [1, 2, 3]}), "a")
