"""The step worker end to end: ``python -m tarn._worker spec.json`` in a subprocess, as the Go runtime runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pyarrow as pa
import pytest

from conftest import requires, sdk_env

TRIPS = pa.table(
    {
        "trip_id": [1, 2, 3, 4],
        "miles": [0.5, 2.0, 7.5, 12.0],
        "fare": [5.0, 9.0, None, 40.0],
        "zone": ["a", "b", "a", "c"],
    }
)

MODELS = """
import pyarrow as pa
import pyarrow.compute as pc
import tarn
import helpers

@tarn.model(columns=["trip_id", "fare"])
def clean_trips(trips=tarn.Model("taxi_trips", columns=["trip_id", "miles", "fare"], filter="miles > 1"),
                min_miles=tarn.Parameter("min_miles")):
    print(f"{trips.num_rows} trips, columns {trips.column_names}")
    keep = trips.filter(pc.greater(trips["miles"], min_miles))
    return keep.append_column("extra", pa.array([0] * keep.num_rows))

@tarn.model
def as_dicts(trips=tarn.Model("taxi_trips")):
    return [{"zone": z, "n": 1} for z in trips["zone"].to_pylist()]

@tarn.model
def as_batch(trips=tarn.Model("taxi_trips")):
    return trips.to_batches()[0]

@tarn.model
def as_dict_of_columns():
    return {"a": [1, 2, 3]}

@tarn.model
def returns_none(trips=tarn.Model("taxi_trips")):
    trips.num_rows

@tarn.model
def returns_string():
    return "not a table"

@tarn.model(columns=["missing_col", "zone"])
def lacks_columns(trips=tarn.Model("taxi_trips")):
    return trips

@tarn.model
def broken(trips=tarn.Model("taxi_trips")):
    lookup = {}
    return helpers.look_up(lookup, "zone")

@tarn.model
def param_by_name(factor=tarn.Parameter("scale_factor"), offset=tarn.Parameter(default=100)):
    return {"v": [factor + offset]}

@tarn.model
def exits():
    raise SystemExit(3)

@tarn.model
def prints_progress():
    import sys
    print("to stdout")
    print("to stderr", file=sys.stderr)
    return {"a": [1]}

@tarn.model
async def asynchronous():
    return {"a": [1]}

@tarn.model
def hog_memory():
    chunks = []
    while True:
        chunks.append(bytearray(64 * 2**20))

@tarn.model
def hog_arrow_memory():
    return pa.allocate_buffer(8 * 2**30)
"""

HELPERS = """
def look_up(mapping, key):
    return mapping[key]
"""

EXPECTATIONS = """
import pyarrow.compute as pc
import tarn

@tarn.expectation()
def fares_present(trips=tarn.Model("taxi_trips")):
    return tarn.expectations.no_nulls(trips, "fare")

@tarn.expectation()
def has_rows(trips=tarn.Model("taxi_trips")):
    return trips.num_rows > 0

@tarn.expectation()
def returns_false(trips=tarn.Model("taxi_trips")):
    return False

@tarn.expectation()
def bare_assert(trips=tarn.Model("taxi_trips")):
    assert trips.num_rows > 100
    return True

@tarn.expectation()
def assert_with_message(trips=tarn.Model("taxi_trips")):
    assert trips.num_rows > 100, f"only {trips.num_rows} rows"

@tarn.expectation()
def forgot_return(trips=tarn.Model("taxi_trips")):
    trips.num_rows > 0

@tarn.expectation()
def arrow_mask(trips=tarn.Model("taxi_trips")):
    return pc.greater(trips["miles"], 1)

@tarn.expectation()
def arrow_scalar(trips=tarn.Model("taxi_trips")):
    return pc.all(pc.greater(trips["miles"], 0))

@tarn.expectation()
def raises(trips=tarn.Model("taxi_trips")):
    return trips["no_such_column"]
"""


@pytest.fixture
def models(project):
    return project({"models/trips.py": MODELS, "models/helpers.py": HELPERS, "checks/expect.py": EXPECTATIONS})


def model_spec(root, function, **extra):
    spec = {
        "kind": "model",
        "project_dir": str(root),
        "file": "models/trips.py",
        "function": function,
        "name": function,
    }
    spec.update(extra)
    return spec


def expectation_spec(root, function):
    return {
        "kind": "expectation",
        "project_dir": str(root),
        "file": "checks/expect.py",
        "function": function,
        "name": function,
        "output": None,
    }


def test_model_with_columns_filter_and_parameters(models, worker):
    run = worker(
        model_spec(models, "clean_trips", parameters={"min_miles": 5}),
        inputs={"trips": {"table": TRIPS, "columns": ["trip_id", "miles", "fare"], "filter": "miles > 1"}},
    )
    assert run.returncode == 0, run
    assert "3 trips, columns ['trip_id', 'miles', 'fare']" in run.stdout
    # Declared output columns are checked and selected, in order.
    assert run.table.to_pydict() == {"trip_id": [3, 4], "fare": [None, 40.0]}
    result = run.result
    assert result["ok"] is True and result["rows"] == 2
    assert result["columns"] == [{"name": "trip_id", "type": "int64"}, {"name": "fare", "type": "double"}]
    assert result["seconds"] >= 0 and result["started_at_ns"] <= time.time_ns()
    assert result["output_bytes"] > 0


def test_output_is_an_arrow_ipc_file(models, worker):
    run = worker(model_spec(models, "as_batch"), inputs={"trips": TRIPS})
    assert run.returncode == 0, run
    with pa.memory_map(run.spec["output"], "r") as source:
        assert source.read(6) == b"ARROW1"
        source.seek(0)
        assert pa.ipc.open_file(source).read_all().equals(TRIPS)
    assert not any(
        name.endswith(".tmp") for name in __import__("os").listdir(__import__("os").path.dirname(run.spec["output"]))
    )


@pytest.mark.parametrize(
    "function, expected",
    [
        ("as_dicts", {"zone": ["a", "b", "a", "c"], "n": [1, 1, 1, 1]}),
        ("as_dict_of_columns", {"a": [1, 2, 3]}),
        ("asynchronous", {"a": [1]}),
    ],
)
def test_python_outputs(models, worker, function, expected):
    run = worker(model_spec(models, function), inputs={"trips": TRIPS} if function == "as_dicts" else None)
    assert run.returncode == 0, run
    assert run.table.to_pydict() == expected


@requires("pandas")
def test_pandas_output(project, worker):
    root = project(
        {
            "m.py": """
                import tarn

                @tarn.model
                @tarn.python("3.11", pip={"pandas": "2.2.3"})
                def by_zone(trips=tarn.Model("taxi_trips")):
                    df = trips.to_pandas()
                    return df.groupby("zone").miles.sum()  .to_frame()

                @tarn.model
                def plain(trips=tarn.Model("taxi_trips")):
                    df = trips.to_pandas()
                    return df[df.miles > 1]
            """
        }
    )
    grouped = worker({"project_dir": str(root), "file": "m.py", "function": "by_zone"}, inputs={"trips": TRIPS})
    assert grouped.returncode == 0, grouped
    # A named index (groupby keys) is data: it becomes a column instead of being dropped.
    assert grouped.table.to_pydict() == {"zone": ["a", "b", "c"], "miles": [8.0, 2.0, 12.0]}
    plain = worker({"project_dir": str(root), "file": "m.py", "function": "plain"}, inputs={"trips": TRIPS})
    assert plain.returncode == 0, plain
    # The default (filtered) RangeIndex is not written as a column.
    assert plain.table.column_names == ["trip_id", "miles", "fare", "zone"]
    assert plain.table["trip_id"].to_pylist() == [2, 3, 4]


@requires("polars")
def test_polars_output(project, worker):
    root = project(
        {
            "m.py": """
                import polars as pl
                import tarn

                @tarn.model
                def eager(trips=tarn.Model("taxi_trips")):
                    return pl.from_arrow(trips).filter(pl.col("miles") > 1).select("zone", "miles")

                @tarn.model
                def lazy(trips=tarn.Model("taxi_trips")):
                    return pl.from_arrow(trips).lazy().group_by("zone").agg(pl.col("miles").sum()).sort("zone")
            """
        }
    )
    eager = worker({"project_dir": str(root), "file": "m.py", "function": "eager"}, inputs={"trips": TRIPS})
    assert eager.returncode == 0, eager
    assert eager.table.to_pydict() == {"zone": ["b", "a", "c"], "miles": [2.0, 7.5, 12.0]}
    assert "view" not in str(eager.table.schema)  # no string_view: readable by every Arrow consumer
    lazy = worker({"project_dir": str(root), "file": "m.py", "function": "lazy"}, inputs={"trips": TRIPS})
    assert lazy.returncode == 0, lazy
    assert lazy.table.to_pydict() == {"zone": ["a", "b", "c"], "miles": [8.0, 2.0, 12.0]}


def test_failing_model_reports_user_file_and_line(models, worker):
    run = worker(model_spec(models, "broken"), inputs={"trips": TRIPS})
    assert run.returncode == 1
    result = run.result
    assert result["ok"] is False
    assert result["error_type"] == "KeyError"
    assert result["message"] == "'zone'"
    assert (result["user_file"], result["user_line"]) == ("models/helpers.py", 2)
    # The traceback starts in user code (no worker frames) and is also streamed on stderr.
    assert result["traceback"].startswith('Traceback (most recent call last):\n  File "')
    assert 'models/trips.py", line 40, in broken' in result["traceback"]
    assert "tarn/_worker.py" not in result["traceback"]
    assert result["traceback"] in run.stderr


@pytest.mark.parametrize(
    "function, error_type, message",
    [
        ("returns_none", "OutputError", "model returns_none returned an unusable value: got None"),
        ("returns_string", "OutputError", "cannot turn a builtins.str into a table"),
        ("lacks_columns", "OutputError", "declares columns missing_col, zone but its output lacks missing_col"),
        ("exits", "SystemExit", "3"),
    ],
)
def test_output_and_exit_errors(models, worker, function, error_type, message):
    run = worker(
        model_spec(models, function), inputs={"trips": TRIPS} if function not in ("returns_string", "exits") else None
    )
    assert run.returncode == 1, run
    assert run.result["error_type"] == error_type
    assert message in run.result["message"]
    assert not __import__("os").path.exists(run.spec["output"])


def test_input_column_and_filter_errors(models, worker):
    run = worker(model_spec(models, "as_batch"), inputs={"trips": {"table": TRIPS, "columns": ["nope"]}})
    assert run.returncode == 1 and run.result["error_type"] == "InputError"
    assert "input trips has no column nope (columns: trip_id, miles, fare, zone)" in run.result["message"]

    run = worker(model_spec(models, "as_batch"), inputs={"trips": {"table": TRIPS, "filter": "miles >> 1"}})
    assert run.returncode == 1 and run.result["error_type"] == "FilterError"
    assert "input trips: filter 'miles >> 1'" in run.result["message"]


def test_filter_on_a_column_not_selected(models, worker):
    run = worker(
        model_spec(models, "as_batch"),
        inputs={"trips": {"table": TRIPS, "columns": ["trip_id"], "filter": "zone = 'a'"}},
    )
    assert run.returncode == 0, run
    assert run.table.to_pydict() == {"trip_id": [1, 3]}


def test_parameters_by_param_or_parameter_name(models, worker):
    run = worker(model_spec(models, "param_by_name", parameters={"scale_factor": 2}))
    assert run.returncode == 0, run
    assert run.table.to_pydict() == {"v": [102]}
    run = worker(model_spec(models, "param_by_name", parameters={"factor": 1, "offset": 1, "unrelated": 5}))
    assert run.table.to_pydict() == {"v": [2]}


def test_output_is_streamed_line_by_line(models, worker):
    run = worker(model_spec(models, "prints_progress"))
    assert run.returncode == 0, run
    assert run.stdout.strip() == "to stdout"
    assert run.stderr.strip() == "to stderr"


@pytest.mark.parametrize(
    "function, passed, message, code",
    [
        ("fares_present", False, "column fare has 1 nulls (of 4 rows)", 3),
        ("has_rows", True, "", 0),
        ("returns_false", False, "returned False", 3),
        ("bare_assert", False, "assertion failed at checks/expect.py:18: assert trips.num_rows > 100", 3),
        ("assert_with_message", False, "only 4 rows", 3),
        ("forgot_return", False, "returned None", 3),
        ("arrow_mask", False, "1 of 4 rows are false or null", 3),
        ("arrow_scalar", True, "", 0),
    ],
)
def test_expectations(models, worker, function, passed, message, code):
    run = worker(expectation_spec(models, function), inputs={"trips": TRIPS})
    assert run.returncode == code, run
    assert run.result["ok"] is True
    assert run.result["passed"] is passed
    assert message in run.result["message"]
    assert run.stderr == ""  # the runtime reports the verdict from the result; nothing is printed twice


def test_expectation_that_raises_is_an_error(models, worker):
    run = worker(expectation_spec(models, "raises"), inputs={"trips": TRIPS})
    assert run.returncode == 1
    assert run.result["ok"] is False and run.result["error_type"] == "KeyError"
    assert run.result["user_file"] == "checks/expect.py"


@requires("duckdb")
def test_sql(project, worker):
    root = project(
        {"models/top_zones.sql": "select zone, count(*) as n\nfrom taxi_trips\ngroup by zone order by n desc, zone"}
    )
    run = worker(
        {
            "kind": "sql",
            "project_dir": str(root),
            "file": "models/top_zones.sql",
            "name": "top_zones",
            "sql": (root / "models/top_zones.sql").read_text(),
        },
        inputs={"taxi_trips": TRIPS},
    )
    assert run.returncode == 0, run
    assert run.table.to_pydict() == {"zone": ["a", "b", "c"], "n": [2, 1, 1]}
    assert run.result["rows"] == 3 and run.result["columns"][1] == {"name": "n", "type": "int64"}
    assert run.stderr == ""  # no progress bar in the user's log


@requires("duckdb")
def test_sql_with_schema_qualified_inputs(project, worker):
    root = project({})
    zones = pa.table({"zone": ["a", "b"], "name": ["Airport", "Bronx"]})
    sql = "select t.trip_id, z.name from sales.trips t join zones z using (zone) order by t.trip_id"
    run = worker(
        {"kind": "sql", "project_dir": str(root), "name": "named", "sql": sql},
        inputs={"sales.trips": TRIPS, "tarn.zones": zones},
    )
    assert run.returncode == 0, run
    assert run.table.to_pydict() == {"trip_id": [1, 2, 3], "name": ["Airport", "Bronx", "Airport"]}


@requires("duckdb")
def test_sql_error_points_at_the_file(project, worker):
    root = project({"bad.sql": "select zone\nfrom taxi_trips\nwhere zone = = 'a'"})
    run = worker(
        {
            "kind": "sql",
            "project_dir": str(root),
            "file": "bad.sql",
            "name": "bad",
            "sql": (root / "bad.sql").read_text(),
        },
        inputs={"taxi_trips": TRIPS},
    )
    assert run.returncode == 1
    assert run.result["error_type"] == "ParserException"
    assert (run.result["user_file"], run.result["user_line"]) == ("bad.sql", 3)


@pytest.mark.parametrize("function", ["hog_memory", "hog_arrow_memory"])
def test_memory_limit(models, worker, function):
    run = worker(model_spec(models, function, memory_limit_bytes=512 * 2**20))
    assert run.returncode == 1, run
    assert run.result["error_type"] == "MemoryError"
    assert "model " + function + " exceeded its memory limit of 0.5 GiB" in run.result["message"]
    assert run.result["user_file"] == "models/trips.py"
    assert "raise it with @tarn.resources(memory=...)" in run.stderr


def test_memory_mapped_inputs_do_not_count_against_the_limit(project, worker):
    root = project(
        {"m.py": "import tarn\n@tarn.model\ndef count(big=tarn.Model('big')):\n    return {'rows': [big.num_rows]}\n"}
    )
    big = pa.table({"x": pa.array(range(40 * 2**20), pa.int64())})  # 320 MiB on disk
    run = worker(
        {"project_dir": str(root), "file": "m.py", "function": "count", "memory_limit_bytes": 256 * 2**20},
        inputs={"big": big},
    )
    assert run.returncode == 0, run
    assert run.table.to_pydict() == {"rows": [40 * 2**20]}


def test_syntax_error_in_user_module(project, worker):
    root = project({"m.py": "import tarn\n\n@tarn.model\ndef f(:\n    pass\n"})
    run = worker({"project_dir": str(root), "file": "m.py", "function": "f"})
    assert run.returncode == 1
    assert run.result["error_type"] == "SyntaxError"
    assert (run.result["user_file"], run.result["user_line"]) == ("m.py", 4)


def test_missing_function(project, worker):
    root = project({"m.py": "x = 1\n"})
    run = worker({"project_dir": str(root), "file": "m.py", "function": "nope"})
    assert run.returncode == 1
    assert run.result["message"] == "m.py defines no function nope"


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"kind": "python"}, "spec kind must be one of model, expectation, sql"),
        ({"kind": "model", "file": "m.py"}, "lacks function"),
        ({"kind": "model", "file": "missing.py", "function": "f"}, "model file"),
    ],
)
def test_spec_errors_exit_2(project, worker, spec, message):
    root = project({"m.py": "def f():\n    return {'a': [1]}\n"})
    run = worker(dict(spec, project_dir=str(root)))
    assert run.returncode == 2, run
    assert message in run.stderr
    assert run.result["error_type"] == "SpecError"


def test_missing_input_file_is_a_spec_error(models, worker, tmp_path):
    spec = model_spec(models, "as_batch")
    run = worker(spec, inputs={"trips": TRIPS})
    spec = dict(run.spec, inputs={"trips": {"path": str(tmp_path / "gone.arrow")}})
    (tmp_path / "spec2.json").write_text(json.dumps(spec))
    proc = subprocess.run(
        [sys.executable, "-m", "tarn._worker", str(tmp_path / "spec2.json")],
        capture_output=True,
        text=True,
        env=sdk_env(),
    )
    assert proc.returncode == 2
    assert "cannot read input trips" in proc.stderr


def test_usage(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tarn._worker"], capture_output=True, text=True, env=sdk_env())
    assert proc.returncode == 2 and "usage: python -m tarn._worker SPEC_JSON_PATH" in proc.stderr


def test_worker_imports_only_pyarrow_and_the_stdlib(models, worker):
    """Cold start: pandas, polars and duckdb stay unimported unless the step uses them."""
    root = models
    (root / "models/probe.py").write_text(
        "import sys\nimport tarn\n\n@tarn.model\ndef probe(t=tarn.Model('x')):\n"
        "    return {'loaded': [m for m in ('pandas', 'polars', 'duckdb') if m in sys.modules] or ['none']}\n"
    )
    run = worker(
        {"project_dir": str(root), "file": "models/probe.py", "function": "probe"},
        inputs={"t": {"table": TRIPS, "columns": ["miles"], "filter": "miles > 1 AND zone IN ('a', 'b')"}},
    )
    assert run.returncode == 0, run
    assert run.table.to_pydict() == {"loaded": ["none"]}


def test_unwritable_output_is_a_spec_error(models, worker, tmp_path):
    run = worker(
        model_spec(models, "as_batch", output=str(tmp_path / "no" / "such" / "dir" / "out.arrow")),
        inputs={"trips": TRIPS},
    )
    assert run.returncode == 2, run
    assert run.result["error_type"] == "SpecError"
    assert "cannot write the output" in run.result["message"]


def test_start_up_imports_stay_small():
    """What the worker imports before user code: no typing/inspect, no tarn module it does not need yet."""
    code = (
        "import sys\n"
        "import tarn\n"
        "heavy = [m for m in ('typing', 'inspect', 'pyarrow') if m in sys.modules]\n"
        "import tarn._worker\n"
        "lazy = [m for m in ('tarn._expectations', 'tarn._report', 'tarn._filter', 'tarn._sql', 'tarn._discover',\n"
        "                    'pyarrow.compute', 'pyarrow.dataset', 'pandas', 'polars', 'duckdb') if m in sys.modules]\n"
        "print(heavy, lazy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=sdk_env())
    assert proc.stdout.strip() == "[] []", proc.stderr
