"""Lake inputs read by the worker from their planned Parquet files, batches inputs and outputs,
the output checksum computed while writing: ``python -m tarn._worker`` as the Go runtime runs it."""

from __future__ import annotations

import struct

import pyarrow as pa
import pytest

PART_1 = pa.table({"id": [1, 2, 3, 4], "miles": [0.5, 2.0, float("nan"), 12.0], "zone": ["a", "b", "a", "c"]})
PART_2 = pa.table({"id": [5, 6, 7], "miles": [3.0, None, 9.0], "zone": ["b", "c", "a"]})
ALL = pa.concat_tables([PART_1, PART_2])

MODELS = """
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import tarn

@tarn.model()
def whole(trips=tarn.Model("trips")):
    return trips

@tarn.model()
def counted(trips=tarn.Model("trips", batches=True)):
    n = 0
    sizes = []
    for batch in trips:
        assert isinstance(batch, pa.RecordBatch), type(batch)
        n += batch.num_rows
        sizes.append(batch.num_rows)
    return pa.table({"rows": [n], "batches": [len(sizes)]})

@tarn.model()
def doubled(trips: Iterator[pa.RecordBatch] = tarn.Model("trips")) -> Iterator[pa.RecordBatch]:
    for batch in trips:
        yield pa.RecordBatch.from_arrays([batch.column("id"), pc.multiply(batch.column("id"), 2)], names=["id", "twice"])

@tarn.model()
def no_batches(trips=tarn.Model("trips", batches=True)):
    for batch in trips:
        if False:
            yield batch

@tarn.model()
def changing_schema():
    yield pa.record_batch({"a": [1]})
    yield pa.record_batch({"b": ["x"]})
"""


@pytest.fixture
def models(project):
    return project({"models/trips.py": MODELS})


def spec(root, function):
    return {"kind": "model", "project_dir": str(root), "file": "models/trips.py", "function": function, "name": function}


def sum64(path):
    """The cache's Sum64 (cache.Sum64File), computed independently of the SDK."""
    data = open(path, "rb").read()
    data += b"\0" * (-len(data) % 8)
    return "sum64:%016x" % (sum(struct.unpack("<%dQ" % (len(data) // 8), data)) % (1 << 64))


def test_lake_input_reads_its_parquet_files_with_columns_and_filter(models, worker):
    run = worker(spec(models, "whole"), inputs={"trips": {"parquet": [PART_1, PART_2], "columns": ["zone", "id"], "filter": "id >= 3 and zone != 'c'"}})
    assert run.returncode == 0, run
    # Columns in the declared order, the filter's column not kept, rows of both files.
    assert run.table.to_pydict() == {"zone": ["a", "b", "a"], "id": [3, 5, 7]}
    read = run.result["profile"]["read"]
    assert read["files"] == 2 and read["rows"] == 3 and read["bytes"] > 0
    assert read["whole_bytes"] == read["bytes"]  # held whole in memory


def test_lake_input_as_batches_is_not_held_whole(models, worker):
    run = worker(spec(models, "counted"), inputs={"trips": {"parquet": [PART_1, PART_2]}})
    assert run.returncode == 0, run
    read = run.result["profile"]["read"]
    assert read["bytes"] > 0 and read["whole_bytes"] == 0


def test_lake_filter_on_floats_keeps_rows_where_it_is_true(models, worker):
    # NaN and null are not > 1; statistics leave NaN out, so no row group may be skipped by them.
    run = worker(spec(models, "whole"), inputs={"trips": {"parquet": [PART_1, PART_2], "columns": ["id"], "filter": "miles > 1"}})
    assert run.returncode == 0, run
    assert run.table["id"].to_pylist() == [2, 4, 5, 7]


def test_lake_input_larger_than_its_budget_is_spooled_and_mapped(models, worker):
    run = worker(
        {**spec(models, "whole"), "memory_limit_bytes": 256 << 20},
        inputs={"trips": {"parquet": [PART_1, PART_2], "estimated_bytes": 1 << 40}},
    )
    assert run.returncode == 0, run
    # (repr: NaN is not equal to itself)
    assert repr(run.table.to_pydict()) == repr(ALL.to_pydict())
    assert run.result["profile"]["read"]["spooled_bytes"] > 0
    assert run.result["profile"]["read"]["whole_bytes"] == 0  # mapped from disk, not in memory


def test_batches_input_is_an_iterator_of_record_batches(models, worker):
    run = worker(spec(models, "counted"), inputs={"trips": {"parquet": [PART_1, PART_2], "row_group_size": 2}})
    assert run.returncode == 0, run
    out = run.table.to_pydict()
    assert out["rows"] == [7] and out["batches"][0] >= 2  # several batches, not one table


def test_batches_input_from_an_arrow_file_with_filter(models, worker):
    run = worker(spec(models, "counted"), inputs={"trips": {"table": ALL, "filter": "id > 2", "batches": True}})
    assert run.returncode == 0, run
    assert run.table["rows"].to_pylist() == [5]


def test_iterator_annotation_streams_in_and_out(models, worker):
    run = worker(spec(models, "doubled"), inputs={"trips": {"parquet": [PART_1, PART_2], "row_group_size": 3}})
    assert run.returncode == 0, run
    assert run.table.to_pydict() == {"id": [1, 2, 3, 4, 5, 6, 7], "twice": [2, 4, 6, 8, 10, 12, 14]}
    assert run.result["rows"] == 7
    assert run.result["profile"]["write"]["rows"] == 7


def test_output_checksum_is_computed_while_writing(models, worker):
    for function, inputs in (("whole", {"trips": ALL}), ("doubled", {"trips": {"parquet": [PART_1, PART_2]}})):
        run = worker(spec(models, function), inputs=inputs)
        assert run.returncode == 0, run
        assert run.result["output_checksum"] == sum64(run.spec["output"])
        assert run.result["output_bytes"] == len(open(run.spec["output"], "rb").read())


@pytest.mark.parametrize(
    "function, message",
    [("no_batches", "returned no batches"), ("changing_schema", "but the first had")],
)
def test_bad_batch_outputs_fail_clearly_and_leave_no_file(models, worker, function, message):
    run = worker(spec(models, function), inputs={"trips": {"parquet": [PART_1]}} if function == "no_batches" else None)
    assert run.returncode != 0
    assert message in run.result["message"], run.result
    import os

    assert not os.path.exists(run.spec["output"]) and not os.path.exists(run.spec["output"] + ".tmp")


def test_sum64_matches_the_cache_algorithm_across_unaligned_writes(tmp_path):
    from tarn._arrow import Sum64

    path = str(tmp_path / "f")
    sink = Sum64(path)
    for chunk in (b"abc", b"defghijklmnopq", b"", b"r" * 1000, b"\xff" * 13):
        sink.write(chunk)
    sink.close()
    assert sink.checksum() == sum64(path)
    assert sink.size == 3 + 14 + 1000 + 13


def _vector_cases():
    from conftest import vectors

    return vectors("filter/cases.json")["cases"]


@pytest.fixture(scope="module")
def vector_files(tmp_path_factory):
    """testdata/filter/data.json as Parquet, one row per row group (so statistics prune), in two files."""
    import pyarrow.parquet as pq
    from test_filter import VECTOR_TABLE

    root = tmp_path_factory.mktemp("vectors")
    half = VECTOR_TABLE.num_rows // 2
    files = []
    for i, part in enumerate((VECTOR_TABLE.slice(0, half), VECTOR_TABLE.slice(half))):
        files.append(str(root / f"part-{i}.parquet"))
        pq.write_table(part, files[-1], row_group_size=1)
    return files, VECTOR_TABLE.schema


@pytest.mark.parametrize("case", _vector_cases(), ids=lambda c: c["filter"])
def test_lake_scan_keeps_the_rows_of_the_shared_filter_vectors(case, vector_files):
    import base64

    from tarn import _lake

    files, schema = vector_files
    entry = {"files": files, "schema": base64.b64encode(schema.serialize().to_pybytes()).decode(), "columns": ["id"], "filter": case["filter"]}
    table, _ = _lake.open_input("t", entry, 0, "/nonexistent")
    assert sorted(table["id"].to_pylist()) == case["rows"]
