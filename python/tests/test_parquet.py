"""The Parquet writer tarn runs after a step (python -m tarn._parquet)."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq

from conftest import sdk_env, write_arrow


def run_writer(request: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tarn._parquet"], input=json.dumps(request), env=sdk_env(),
                          capture_output=True, text=True, timeout=60)


def test_parts_field_ids_and_order(tmp_path):
    table = pa.table({"id": pa.array(range(10), pa.int64()), "zone": [f"z{i % 3}" for i in range(10)]})
    src = write_arrow(tmp_path / "out.arrow", table)
    paths = [str(tmp_path / f"part-{i}.parquet") for i in range(3)]
    done = run_writer({"source": src, "paths": paths, "field_ids": {"id": 7, "zone": 9}, "compression": "zstd", "level": 1})
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer == {"rows": 10, "paths": paths}
    parts = [pq.read_table(p) for p in paths]
    assert [p.num_rows for p in parts] == [3, 3, 4]
    assert pa.concat_tables(parts).column("id").to_pylist() == list(range(10))
    schema = pq.read_schema(paths[0])
    assert schema.field("id").metadata[b"PARQUET:field_id"] == b"7"
    assert schema.field("zone").metadata[b"PARQUET:field_id"] == b"9"
    meta = pq.read_metadata(paths[2])
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert meta.row_group(0).column(0).statistics.min == 6
    assert not list(tmp_path.glob("*.tmp"))


def test_empty_output_writes_nothing(tmp_path):
    src = write_arrow(tmp_path / "out.arrow", pa.table({"id": pa.array([], pa.int64())}))
    path = tmp_path / "p.parquet"
    done = run_writer({"source": src, "paths": [str(path)], "field_ids": {"id": 1}})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"rows": 0, "paths": []}
    assert not path.exists()


def test_failure_leaves_no_file(tmp_path):
    src = write_arrow(tmp_path / "out.arrow", pa.table({"id": list(range(100))}))
    good = tmp_path / "good.parquet"
    bad = tmp_path / "missing-dir" / "bad.parquet"
    done = run_writer({"source": src, "paths": [str(good), str(bad)], "field_ids": {"id": 1}})
    assert done.returncode == 1
    assert "missing-dir" in done.stderr
    assert not good.exists() and not bad.exists()


def test_unknown_column_is_an_error(tmp_path):
    src = write_arrow(tmp_path / "out.arrow", pa.table({"id": [1], "extra": [2]}))
    done = run_writer({"source": src, "paths": [str(tmp_path / "p.parquet")], "field_ids": {"id": 1}})
    assert done.returncode == 1
    assert "no field id for column(s) extra" in done.stderr


def schema_message(schema: pa.Schema) -> str:
    import base64

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema):
        pass
    return base64.b64encode(sink.getvalue().to_pybytes()).decode()


def test_casts_to_the_table_types(tmp_path):
    table = pa.table({"id": pa.array([1, 2], pa.int32()), "ts": pa.array([1_000, 2_000], pa.timestamp("ns")),
                      "name": pa.array(["a", "b"], pa.large_string())})
    target = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us")), ("name", pa.string())])
    src = write_arrow(tmp_path / "out.arrow", table)
    path = str(tmp_path / "p.parquet")
    done = run_writer({"source": src, "paths": [path], "field_ids": {"id": 1, "ts": 2, "name": 3},
                       "schema": schema_message(target)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["paths"] == [path]
    written = pq.read_table(path)
    assert [f.type for f in written.schema] == [pa.int64(), pa.timestamp("us"), pa.string()]
    assert written.column("ts").to_pylist()[1].microsecond == 2


def test_lossy_cast_is_reported_not_written(tmp_path):
    src = write_arrow(tmp_path / "out.arrow", pa.table({"x": pa.array([1.5], pa.float64())}))
    path = tmp_path / "p.parquet"
    done = run_writer({"source": src, "paths": [str(path)], "field_ids": {"x": 1},
                       "schema": schema_message(pa.schema([("x", pa.int64())]))})
    assert done.returncode == 0, done.stderr
    assert "cannot_cast" in json.loads(done.stdout)
    assert not path.exists()


def test_partitioned_one_partition_per_file(tmp_path):
    import datetime

    days = [datetime.date(2024, 1, 1) + datetime.timedelta(days=i % 40) for i in range(200)]
    table = pa.table({"id": pa.array([(i * 37) % 200 - 100 for i in range(200)], pa.int64()), "day": pa.array(days, pa.date32())})
    src = write_arrow(tmp_path / "out.arrow", table)
    request = {"source": src, "paths": [], "field_ids": {"id": 1, "day": 2}, "dir": str(tmp_path),
               "partition": [{"column": "day", "transform": "month"}, {"column": "id", "transform": "truncate", "width": 50}],
               "part_bytes": 1 << 30}
    done = run_writer(request)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["rows"] == 200
    months = {(d.year, d.month) for d in days}
    seen = set()
    total = []
    for path in answer["paths"]:
        assert path.startswith(str(tmp_path) + "/part-")
        part = pq.read_table(path)
        keys = {((d.year, d.month), i // 50) for d, i in zip(part.column("day").to_pylist(), part.column("id").to_pylist())}
        assert len(keys) == 1, f"{path} mixes partitions {keys}"
        assert not keys & seen, f"partition {keys} split over files without need"
        seen |= keys
        total.extend(part.column("id").to_pylist())
    assert sorted(total) == sorted(table.column("id").to_pylist())
    assert {m for m, _ in seen} == months
    # -100 // 50 = -2 and -99 // 50 = -2: floor, as Iceberg's truncate.
    assert {k for _, k in seen} == {-2, -1, 0, 1}
    # A large partition goes to several files, each still one partition.
    done = run_writer({**request, "part_bytes": 200})
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["paths"]) > len(seen)


def test_partitioned_nulls_are_a_partition(tmp_path):
    src = write_arrow(tmp_path / "out.arrow", pa.table({"id": pa.array([1, None, 3, None, 1], pa.int64())}))
    done = run_writer({"source": src, "paths": [], "field_ids": {"id": 1}, "dir": str(tmp_path),
                       "partition": [{"column": "id", "transform": "identity"}]})
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    got = {tuple(values): pq.read_table(path).column("id").to_pylist() for path, values in zip(answer["paths"], answer["partitions"])}
    assert got == {(1,): [1, 1], (3,): [3], (None,): [None, None]}


def test_bucket_is_icebergs():
    import datetime

    from tarn._parquet import bucket

    # The Iceberg spec's hash vectors (appendix B), as buckets of 2**31 - 1.
    def b(value):
        return value & 0x7FFFFFFF

    assert bucket(pa.array([34, None], pa.int32()), 2**31 - 1).to_pylist() == [b(2017239379), None]
    assert bucket(pa.array([34], pa.int64()), 2**31 - 1).to_pylist() == [b(2017239379)]
    assert bucket(pa.array(["iceberg", "iceberg"]), 2**31 - 1).to_pylist() == [b(1210000089)] * 2
    assert bucket(pa.array([datetime.date(2017, 11, 16)]), 2**31 - 1).to_pylist() == [b(-653330422)]
    ts = pa.array([datetime.datetime(2017, 11, 16, 22, 31, 8)], pa.timestamp("us"))
    assert bucket(ts, 2**31 - 1).to_pylist() == [b(-2047944441)]


def test_bucket_needs_no_numpy():
    # A step environment with pyarrow alone (numpy blocked): the same
    # spec vectors, in a process of its own.
    script = """
import sys
sys.modules["numpy"] = None
import datetime
import pyarrow as pa
from tarn._parquet import bucket
b = lambda v: v & 0x7FFFFFFF
assert bucket(pa.array([34, None], pa.int64()), 2**31 - 1).to_pylist() == [b(2017239379), None]
assert bucket(pa.array(["iceberg", None]), 2**31 - 1).to_pylist() == [b(1210000089), None]
assert bucket(pa.array([datetime.date(2017, 11, 16)]), 2**31 - 1).to_pylist() == [b(-653330422)]
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], env=sdk_env(), capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
