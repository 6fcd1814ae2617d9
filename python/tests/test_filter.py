"""The row filter language: the shared vectors (testdata/filter, also run by the
Go lake-input path), parsing, SQL null semantics, literal typing, errors."""

from __future__ import annotations

import datetime as dt
import decimal
import re
import subprocess
import sys

import pyarrow as pa
import pytest

from conftest import requires, sdk_env, vectors, write_arrow
from tarn import FilterError, _filter

UTC = dt.timezone.utc
VECTORS = vectors("filter/cases.json")


def _vector_table() -> pa.Table:
    """testdata/filter/data.json as a pyarrow Table (the Go test builds the same as an Iceberg table)."""
    data = vectors("filter/data.json")
    arrays, fields = [], []
    for column in data["columns"]:
        name, kind = column["name"], column["type"]
        values = [row[name] for row in data["rows"]]
        if kind.startswith("decimal"):
            precision, scale = (int(p) for p in kind[len("decimal(") : -1].split(","))
            data_type = pa.decimal128(precision, scale)
            values = [None if v is None else decimal.Decimal(v) for v in values]
        elif kind in ("timestamp", "timestamptz"):
            data_type = pa.timestamp("us", "UTC" if kind == "timestamptz" else None)
            tz = UTC if kind == "timestamptz" else None
            values = [None if v is None else dt.datetime.fromisoformat(v).replace(tzinfo=tz) for v in values]
        elif kind == "date":
            data_type = pa.date32()
            values = [None if v is None else dt.date.fromisoformat(v) for v in values]
        else:
            types = {"int32": pa.int32(), "int64": pa.int64(), "float": pa.float32(), "double": pa.float64()}
            data_type = dict(types, string=pa.string(), bool=pa.bool_())[kind]
            if kind in ("float", "double"):
                values = [float(v) if v is not None else None for v in values]
        arrays.append(pa.array(values, data_type))
        fields.append(pa.field(name, data_type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


VECTOR_TABLE = _vector_table()


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["filter"])
def test_vectors(case):
    assert _filter.apply(VECTOR_TABLE, case["filter"])["id"].to_pylist() == case["rows"]


@pytest.mark.parametrize("case", VECTORS["errors"], ids=lambda c: c["filter"] or "<empty>")
def test_vector_errors(case):
    with pytest.raises(FilterError) as info:
        _filter.apply(VECTOR_TABLE, case["filter"], "input t")
    assert case["error"] in str(info.value)


TABLE = pa.table(
    {
        "id": [1, 2, 3, 4, 5],
        "miles": [0.5, 2.0, None, 7.5, 12.0],
        "zone": ["a", "b", None, "a", "it's"],
        "flag": [True, False, None, True, False],
        "day": [dt.date(2024, 1, d) for d in (1, 2, 3, 4, 5)],
        "at": pa.array([dt.datetime(2024, 1, d, 12, tzinfo=UTC) for d in (1, 2, 3, 4, 5)], pa.timestamp("us", "UTC")),
        "naive": pa.array([dt.datetime(2024, 1, d, 12) for d in (1, 2, 3, 4, 5)], pa.timestamp("ns")),
        "fare": pa.array([decimal.Decimal(v) for v in ("1.50", "2.00", "3.25", "4.00", "5.75")], pa.decimal128(10, 2)),
        "small": pa.array([1, 2, 3, 4, 5], pa.int8()),
        "big_text": pa.array(["a", "b", "c", "d", "e"], pa.large_string()),
        "My Col": [10, 20, 30, 40, 50],
    }
)


@pytest.mark.parametrize(
    "predicate, ids",
    [
        ("miles > 1", [2, 4, 5]),
        ("miles >= 2 AND miles <= 7.5", [2, 4]),
        ("miles < 1 or miles > 10", [1, 5]),
        ("NOT miles > 1", [1]),  # NULL stays NULL under NOT: row 3 is dropped
        ("id = 1", [1]),
        ("id == 1", [1]),
        ("id != 1", [2, 3, 4, 5]),
        ("id <> 1", [2, 3, 4, 5]),
        ("zone = 'a'", [1, 4]),
        ("zone = 'it''s'", [5]),
        ("zone IN ('a', 'b')", [1, 2, 4]),
        ("zone NOT IN ('a')", [2, 5]),  # NULL NOT IN (...) is NULL
        ("NOT zone IN ('a')", [2, 5]),
        ("zone IN ('a', NULL)", [1, 4]),
        ("zone IS NULL", [3]),
        ("zone is not null", [1, 2, 4, 5]),
        ("miles BETWEEN 2 AND 7.5", [2, 4]),
        ("miles NOT BETWEEN 2 AND 7.5", [1, 5]),
        ("flag", [1, 4]),
        ("NOT flag", [2, 5]),
        ("flag = TRUE", [1, 4]),
        ("flag = false", [2, 5]),
        ("(id = 1 OR id = 2) AND miles > 1", [2]),
        ("id = 1 OR id = 2 AND miles > 1", [1, 2]),  # AND binds tighter than OR
        ("day >= DATE '2024-01-04'", [4, 5]),
        ("day = '2024-01-02'", [2]),
        ("at >= '2024-01-04'", [4, 5]),
        ("at < TIMESTAMP '2024-01-02 12:00:00'", [1]),
        ("at > TIMESTAMP '2024-01-04T13:00:00+02:00'", [4, 5]),
        ("naive >= DATE '2024-01-05'", [5]),
        ("naive BETWEEN '2024-01-02' AND '2024-01-03 23:59:59'", [2, 3]),
        ("fare > 3", [3, 4, 5]),
        ("fare = 1.5", [1]),
        ("fare IN (2, 4.00)", [2, 4]),
        ("small IN (1, 2.0, 2.5, 300)", [1, 2]),
        ("big_text = 'c'", [3]),
        ("big_text IN ('a', 'e')", [1, 5]),
        ('"My Col" > 30', [4, 5]),
        ("id <= small", [1, 2, 3, 4, 5]),  # column to column
        ("miles > id", [4, 5]),
        ("zone LIKE 'a%'", [1, 4]),
        ("zone NOT LIKE 'a%'", [2, 5]),
        ("zone ILIKE 'A'", [1, 4]),
        ("miles = NULL", []),
        ("TRUE", [1, 2, 3, 4, 5]),
        ("FALSE", []),
        ("id > -1 AND miles < 1e3", [1, 2, 4, 5]),
    ],
)
def test_apply(predicate, ids):
    assert _filter.apply(TABLE, predicate)["id"].to_pylist() == ids


@pytest.mark.parametrize(
    "predicate",
    ["miles > 1", "zone NOT IN ('a')", "at >= '2024-01-04'", "fare IN (2, 4.00)", "flag", "day = DATE '2024-01-02'"],
)
def test_expression_matches_mask(predicate):
    pytest.importorskip("pyarrow.dataset")
    expression = _filter.to_expression(predicate, TABLE.schema)
    assert TABLE.filter(expression)["id"].to_pylist() == _filter.apply(TABLE, predicate)["id"].to_pylist()


@pytest.mark.parametrize(
    "predicate, message",
    [
        ("miles >", "expected a column name or a literal value, found end of filter"),
        ("miles = = 1", "found '='"),
        ("miles ~ 1", "unexpected character '~'"),
        ("zone IN 'a'", "expected '(' after IN"),
        ("zone IN ('a'", "expected ')' or ','"),
        ("zone NOT 'a'", "expected IN, BETWEEN or LIKE after NOT"),
        ("miles BETWEEN 1 OR 2", "expected AND in BETWEEN"),
        ("zone IS 'a'", "expected NULL after IS"),
        ("day = DATE '2024-13-01'", "is not a valid date"),
        ("zone LIKE 3", "expected a 'pattern' string after LIKE"),
        ("(miles > 1", "expected ')'"),
        ("miles > 1 miles", "expected AND, OR or the end of the filter"),
        ("", "filter is empty"),
        ("id IN (1, 'a')", "mixed literal types"),
    ],
)
def test_errors_name_the_filter(predicate, message):
    with pytest.raises(FilterError, match=re.escape(message)) as info:
        _filter.apply(TABLE, predicate)
    assert repr(predicate) in str(info.value) or predicate == ""


def test_unknown_column():
    with pytest.raises(FilterError, match=r"refers to nope, which the input does not have \(columns: id, miles"):
        _filter.apply(TABLE, "nope > 1", "input trips")


def test_type_mismatch_is_a_filter_error():
    with pytest.raises(FilterError, match=r"input trips: filter \"id = 'x'\": cannot compare id \(int64\) with 'x'"):
        _filter.apply(TABLE, "id = 'x'", "input trips")


def test_parse_needs_no_pyarrow():
    assert _filter.parse("a > 1 AND b IN ('x')") == (
        "and",
        ("cmp", ">", ("col", "a"), ("lit", 1, "number")),
        ("in", ("col", "b"), [("lit", "x", "string")], False),
    )
    assert _filter.columns(_filter.parse('"x y" BETWEEN a AND 3')) == {"x y", "a"}


def test_run_parameters_parse_only_as_placeholders():
    # Declared filters may use $name (discovery checks their shape); a run
    # binds each to a literal before any filter is applied.
    assert _filter.columns(_filter.parse("miles > $min AND zone = '$x'", params=True)) == {"miles", "zone"}
    with pytest.raises(FilterError, match=re.escape("$min is a run parameter")):
        _filter.apply(TABLE, "miles > $min")
    with pytest.raises(FilterError, match=re.escape("expected AND, OR or the end of the filter")):
        _filter.parse("miles > $min $min", params=True)


@requires("pandas")
def test_filtering_does_not_import_pandas(tmp_path):
    """pyarrow's Python-object conversion and its dataset module import pandas (~0.8 s); filters avoid both."""
    path = write_arrow(tmp_path / "t.arrow", TABLE)
    code = (
        "import sys\n"
        "from tarn import _arrow, _filter\n"
        f"table = _arrow.read_ipc_file({path!r})\n"
        "out = _filter.apply(table, \"miles > 1 AND zone IN ('a', 'b') AND at >= '2024-01-01' AND fare > 1.5 AND day < DATE '2025-01-01'\")\n"
        "print(out.num_rows, 'pandas' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=sdk_env())
    assert proc.stdout.split() == ["2", "False"], proc.stderr
