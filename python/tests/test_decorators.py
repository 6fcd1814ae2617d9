"""Decorators record metadata, validate eagerly, and leave functions callable as plain Python."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tarn


def test_model_records_metadata_and_stays_callable():
    @tarn.model(materialization_strategy="replace", partitioned_by="day(pickup_at)", columns=["miles"])
    @tarn.python("3.11", pip={"pandas": "2.2.3"})
    @tarn.resources(memory="4GiB", timeout=600)
    def clean_trips(
        trips=tarn.Model("taxi_trips", columns=["miles"], filter="miles > 0"), min_miles=tarn.Parameter("min_miles")
    ):
        """Keep long trips."""
        return trips.filter(pc.greater(trips["miles"], min_miles))

    spec = clean_trips.__tarn__
    assert spec.kind == "model"
    assert spec.name == "clean_trips"
    assert spec.materialization_strategy == "REPLACE"
    assert spec.partitioned_by == ["day(pickup_at)"]
    assert spec.columns == ["miles"]
    assert spec.python == {"version": "3.11", "pip": {"pandas": "2.2.3"}}
    assert spec.resources == {"memory": "4GiB", "memory_bytes": 4 * 2**30, "timeout": 600}
    assert spec.inputs == {"trips": tarn.Model("taxi_trips", columns=["miles"], filter="miles > 0")}
    assert list(spec.parameters) == ["min_miles"]
    assert clean_trips.__name__ == "clean_trips" and clean_trips.__doc__ == "Keep long trips."

    table = pa.table({"miles": [0.5, 3.0, 10.0]})
    assert clean_trips(trips=table, min_miles=1.0)["miles"].to_pylist() == [3.0, 10.0]
    assert clean_trips(table, 5)["miles"].to_pylist() == [10.0]


def test_decorator_order_does_not_matter():
    @tarn.resources(memory="1GiB")
    @tarn.python("3.12")
    @tarn.model(name="renamed")
    def first():
        return None

    @tarn.model(name="renamed")
    @tarn.resources(memory="1GiB")
    @tarn.python("3.12")
    def second():
        return None

    a, b = first.__tarn__.to_dict(), second.__tarn__.to_dict()
    a.pop("function"), b.pop("function")
    assert a == b
    assert a["name"] == "renamed" and a["python"]["version"] == "3.12"


def test_bare_decorators():
    @tarn.model
    def bare_model():
        return [{"a": 1}]

    @tarn.expectation
    def bare_check():
        return True

    assert bare_model.__tarn__.kind == "model" and bare_model.__tarn__.materialization_strategy == "NONE"
    assert bare_check.__tarn__.kind == "expectation" and bare_check() is True


def test_missing_input_when_called_directly():
    @tarn.model()
    def clean_trips(trips=tarn.Model("taxi_trips")):
        return trips

    with pytest.raises(TypeError, match=r"pass trips=<pyarrow.Table> when calling clean_trips directly"):
        clean_trips()
    with pytest.raises(tarn.MissingInputError):
        clean_trips()
    with pytest.raises(tarn.TarnError):
        clean_trips()


def test_parameters_when_called_directly():
    @tarn.model()
    def scaled(factor=tarn.Parameter("factor"), offset=tarn.Parameter(default=1)):
        return factor, offset

    with pytest.raises(TypeError, match=r"pass factor=<value> when calling scaled directly.*'factor'"):
        scaled()
    assert scaled(factor=2) == (2, 1)
    assert scaled(2, 5) == (2, 5)
    assert scaled.__tarn__.parameters["offset"].has_default


def test_wrong_arguments_still_fail_like_python():
    @tarn.model()
    def f(trips=tarn.Model("t")):
        return trips

    with pytest.raises(TypeError, match="unexpected keyword argument"):
        f(trips=1, nope=2)


def test_expectation_metadata():
    @tarn.expectation(name="fares_positive")
    @tarn.python("3.11")
    def check(trips=tarn.Model("clean_trips", columns=["fare"])):
        return True

    assert check.__tarn__.kind == "expectation"
    assert check.__tarn__.name == "fares_positive"
    assert check.__tarn__.inputs["trips"].columns == ["fare"]


@pytest.mark.parametrize(
    "make, error, message",
    [
        (
            lambda: tarn.model(materialization_strategy="UPSERT"),
            ValueError,
            "NONE, REPLACE, APPEND, OVERWRITE_PARTITIONS",
        ),
        (lambda: tarn.model(materialization_strategy=1), TypeError, "materialization_strategy must be a string"),
        (lambda: tarn.model(name="bad name"), ValueError, "not a valid name"),
        (lambda: tarn.model(columns="a"), TypeError, "columns must be a list of strings"),
        (lambda: tarn.model(columns=["a", "a"]), ValueError, "lists a more than once"),
        (lambda: tarn.model(partitioned_by=[1]), TypeError, "partitioned_by must contain non-empty strings"),
        (lambda: tarn.model(internet_access="yes"), TypeError, "internet_access must be True or False"),
        (lambda: tarn.python(3.10), TypeError, "cannot tell 3.10 from 3.1"),
        (lambda: tarn.python("python3"), ValueError, "must look like '3.11'"),
        (lambda: tarn.python("3.11", pip=["pandas"]), TypeError, "pip must be a dict"),
        (lambda: tarn.python("3.11", pip={"pandas": 2}), TypeError, "must be a string such as '2.2.3'"),
        (lambda: tarn.resources(memory="lots"), ValueError, "is not a size"),
        (lambda: tarn.resources(timeout=-1), ValueError, "positive number of seconds"),
        (lambda: tarn.Model(), TypeError, "needs the name of the table"),
        (lambda: tarn.Model("t", filter="miles >"), tarn.FilterError, "expected a column name or a literal"),
        (lambda: tarn.Model("t", columns=[""]), TypeError, "non-empty strings"),
        (lambda: tarn.expectation(name=3), TypeError, "expectation name must be a string"),
    ],
)
def test_validation_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_invalid_combinations():
    with pytest.raises(ValueError, match="cannot be both a tarn model and a tarn expectation"):

        @tarn.expectation()
        @tarn.model()
        def both():
            return None

    with pytest.raises(ValueError, match="@tarn.python twice"):

        @tarn.python("3.11")
        @tarn.python("3.12")
        def twice():
            return None

    with pytest.raises(TypeError, match="decorates a function"):
        tarn.model()(42)


def test_memory_units():
    from tarn import _validate

    assert _validate.memory_bytes("512MiB") == 512 * 2**20
    assert _validate.memory_bytes("2GB") == 2 * 10**9
    assert _validate.memory_bytes("1.5g") == int(1.5 * 2**30)
    assert _validate.memory_bytes(" 300 mib ") == 300 * 2**20
    assert _validate.memory_bytes(1024) == 1024
    with pytest.raises(ValueError, match="is not a size"):
        _validate.memory_bytes("4Gi")  # not understood by the Go side either
    assert _validate.resources_options(memory=2048)["memory"] == "2048"


def test_errors_share_one_base():
    for error in (
        tarn.NotFoundError,
        tarn.ConflictError,
        tarn.UnauthorizedError,
        tarn.ForbiddenError,
        tarn.InvalidError,
        tarn.MissingInputError,
        tarn.FilterError,
        tarn.InputError,
        tarn.OutputError,
    ):
        assert issubclass(error, tarn.TarnError)


def test_public_api():
    assert tarn.__version__ == "0.1.0"
    for name in tarn.__all__:
        assert hasattr(tarn, name), name
    assert callable(tarn.expectations.no_nulls)


def test_import_tarn_needs_no_pyarrow():
    import subprocess
    import sys

    from conftest import sdk_env

    code = "import sys; sys.modules['pyarrow'] = None; import tarn; import tarn._discover; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=sdk_env())
    assert proc.stdout.strip() == "ok", proc.stderr
