"""Typed models: tarn.TableSchema / TableField, Annotated inputs and parameters, schema checks."""

from __future__ import annotations

import importlib.util
import sys
from typing import Annotated

import pyarrow as pa
import pytest

import tarn
from tarn._schema import check_table
from conftest import run_discover

SCHEMAS = """
import tarn

class Zone(tarn.TableSchema):
    zone: tarn.String = tarn.TableField("zone", "the pickup zone")
"""

TYPED = """
from __future__ import annotations
from typing import Annotated
import pyarrow as pa
import tarn
from tarn import Int64, TableField
from schemas import Zone

class Trip(tarn.TableSchema):
    pickup_at: tarn.TimestampMicro = TableField("pickup_at", "when the ride began")
    miles: "tarn.Float64"
    fare = TableField("fare amount", None, tarn.Float64, nullable=False)
    unit = "km"  # a plain class attribute, not a column

class Counted(Zone):
    n: Annotated[Int64, "a count"]

@tarn.model(output_schema=Counted, materialization_strategy="REPLACE")
def counted(
    trips: Annotated[pa.Table, tarn.Model("trips", projection_schema=Trip, filter="miles > $min_miles")],
    zones: Annotated[pa.Table, tarn.Model("zones", projection_schema=Zone)],
    rate: Annotated[float, tarn.Parameter("rate")],
    plain=tarn.Parameter("plain", default=1),
):
    return zones
"""


def load(root, name):
    sys.path.insert(0, str(root))
    try:
        spec = importlib.util.spec_from_file_location(f"typed_{name}", root / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("schemas", None)


def test_discovery_reads_typed_models_and_matches_the_runtime(project):
    root = project({"schemas.py": SCHEMAS, "m.py": TYPED})
    found = run_discover(root)
    assert found["errors"] == []
    (static,) = found["models"]
    assert [i["param"] for i in static["inputs"]] == ["trips", "zones"]
    assert static["inputs"][0]["columns"] == ["pickup_at", "miles", "fare amount"]
    assert static["inputs"][0]["schema"][2] == {"name": "fare amount", "type": "Float64", "doc": None, "nullable": False}
    assert [p["name"] for p in static["parameters"]] == ["rate", "plain"]
    assert static["output_schema"] == [
        {"name": "zone", "type": "String", "doc": "the pickup zone", "nullable": True},
        {"name": "n", "type": "Int64", "doc": None, "nullable": True},
    ]
    runtime = load(root, "m").counted.__tarn__.to_dict()
    for key, value in runtime.items():
        if key in ("inputs", "parameters"):
            assert [{k: v for k, v in item.items() if k != "line"} for item in static[key]] == value, key
        elif key != "kind":
            assert static[key] == value, key


@pytest.mark.parametrize(
    "source, message",
    [
        ("class S(tarn.TableSchema):\n    a: int\n", "`int` is not a tarn column type"),
        ("class S:\n    a: tarn.Int64\n", "class S is not a tarn.TableSchema"),
        ("class S(tarn.TableSchema):\n    a = tarn.TableField('a')\n", "field a of S has no tarn type"),
        ("class S(tarn.TableSchema):\n    a: tarn.Int64\n    b: tarn.Int64 = tarn.TableField('a')\n", "declares column 'a' twice"),
        ("S = None\n", "there is no class Missing"),
    ],
)
def test_schema_errors_are_located(project, source, message):
    model = (
        "import tarn\n" + source + "\n@tarn.model(output_schema=" + ("Missing" if "S = None" in source else "S") + ")\n"
        "def m():\n    pass\n"
    )
    found = run_discover(project({"m.py": model}))
    assert found["models"] == []
    assert any(message in e["message"] for e in found["errors"]), found["errors"]


def test_columns_and_a_schema_are_exclusive(project):
    model = (
        "import tarn\nclass S(tarn.TableSchema):\n    a: tarn.Int64\n\n"
        "@tarn.model()\ndef m(x=tarn.Model('t', columns=['a'], projection_schema=S)):\n    pass\n"
    )
    found = run_discover(project({"m.py": model}))
    assert any("projection_schema or columns, not both" in e["message"] for e in found["errors"]), found
    with pytest.raises(tarn.SchemaError, match="not both"):
        class S(tarn.TableSchema):
            a: tarn.Int64
        tarn.Model("t", columns=["a"], projection_schema=S)


class Out(tarn.TableSchema):
    id = tarn.TableField("id", "key", tarn.Int64, nullable=False)
    at = tarn.TableField(type=tarn.TimestampMicroUTC)
    label = tarn.TableField(type=tarn.String)
    extra = tarn.TableField(type=tarn.Any)


def test_check_table_lists_every_difference():
    good = pa.table({
        "extra": [[1], [2]],
        "label": pa.array(["a", "b"], pa.large_string()),
        "at": pa.array([0, 1], pa.timestamp("us", tz="Etc/UTC")),
        "id": [1, 2],
    })
    assert check_table(good, Out, "output", True, tarn.OutputError).column_names == ["id", "at", "label", "extra"]
    bad = pa.table({"id": pa.array([1, None], pa.int32()), "at": pa.array([0, 1], pa.timestamp("us")), "surplus": [1, 2]})
    with pytest.raises(tarn.OutputError) as info:
        check_table(bad, Out, "the output of model m", True, tarn.OutputError)
    text = str(info.value)
    for part in ("id: is int32, the schema says Int64", "at: is timestamp[us], the schema says TimestampMicroUTC",
                 "label: missing", "extra: missing", "surplus: not in the schema"):
        assert part in text, text
    nulls = pa.table({"id": pa.array([1, None], pa.int64())})
    with pytest.raises(tarn.InputError, match="id: has 1 null"):
        check_table(nulls, Out, "input x", False, tarn.InputError)


def test_annotated_inputs_are_required_when_called_directly():
    @tarn.model()
    def m(t: Annotated[pa.Table, tarn.Model("trips")], k: Annotated[int, tarn.Parameter("k", default=2)]):
        return t.num_rows * k

    assert m(t=pa.table({"a": [1, 2]})) == 4
    with pytest.raises(tarn.MissingInputError, match="pass t="):
        m()
