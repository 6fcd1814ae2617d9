"""Write a step's Arrow IPC output as Parquet data files of an Iceberg table.

tarn runs this module (``python -m tarn._parquet``) in the step's own
environment after the step has finished, beside the rest of the run. It is
tarn's code, not the user's: it reads one JSON request on stdin::

    {"source": "/dev/shm/.../out.arrow", "paths": ["/wh/ns/t/data/a-00000.parquet", ...],
     "field_ids": {"col": 1, ...}, "schema": "<base64 Arrow IPC stream of the table's schema>",
     "compression": "zstd", "level": 1}

memory-maps the source, splits its rows into ``len(paths)`` contiguous parts
written in parallel threads (each to ``path.tmp``, then renamed), stores
each column's Iceberg field id as its Parquet field id, and prints one JSON
line: ``{"rows": N, "paths": [...]}`` (no paths when there are no rows).

For a partitioned table the request also holds ``"partition": [{"column":
"ts", "transform": "day"}, ...]`` (identity, year, month, day, hour or
truncate with ``"width"``, on integer, date and timestamp columns),
``"dir"`` and ``"part_bytes"``: rows are grouped by their partition, each
group is written to files of at most about ``part_bytes`` of Arrow data
named ``dir/part-NNNNN.parquet``, in parallel, and tarn reads each file's
partition values from its column statistics. A partition column holding
nulls is declined (``{"declined": "..."}``, nothing written): tarn writes
that output through its own writer.
Columns whose type differs from the table's are cast (safe casts only);
when one does not convert the answer is ``{"cannot_cast": "..."}`` and
nothing is written (tarn then writes through its own writer, which names
the column).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

FIELD_ID = b"PARQUET:field_id"


def with_field_ids(table: pa.Table, field_ids: dict) -> pa.Table:
    """Return ``table`` (zero-copy) with each column's Parquet field id."""
    missing = [f.name for f in table.schema if f.name not in field_ids]
    if missing:
        raise ValueError(f"no field id for column(s) {', '.join(missing)}")
    fields = [f.with_metadata({FIELD_ID: str(field_ids[f.name]).encode()}) for f in table.schema]
    return pa.Table.from_arrays(table.columns, schema=pa.schema(fields))


def cast(table: pa.Table, target: pa.Schema) -> pa.Table:
    """Cast the columns of ``table`` whose type differs from ``target``'s (same names, in order)."""
    if table.schema.names != target.names:
        raise ValueError(f"columns {table.schema.names} are not the table's {target.names}")
    columns = [
        column if column.type == field.type else column.cast(field.type, safe=True)
        for column, field in zip(table.columns, target)
    ]
    return pa.Table.from_arrays(columns, schema=pa.schema([pa.field(f.name, f.type) for f in target]))


def split(table: pa.Table, parts: int) -> list:
    """Split ``table`` into ``parts`` contiguous slices of about equal rows (empty slices dropped)."""
    n = table.num_rows
    bounds = [n * i // parts for i in range(parts + 1)]
    return [table.slice(lo, hi - lo) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


def write_one(part: pa.Table, path: str, compression: str, level) -> str:
    tmp = path + ".tmp"
    try:
        pq.write_table(part, tmp, compression=compression, compression_level=level, write_statistics=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


TEMPORAL = ("year", "month", "day", "hour")


def partition_key(column, field: dict):
    """Return an array equal for two rows exactly when ``field``'s transform is."""
    transform = field["transform"]
    if transform == "identity":
        return column
    if transform in TEMPORAL:
        return pc.floor_temporal(column, unit=transform)
    if transform == "truncate":
        width = int(field["width"])
        quotient = pc.divide(column, width)  # toward zero: one less below zero unless exact
        inexact = pc.and_(pc.less(column, 0), pc.not_equal(pc.multiply(quotient, width), column))
        return pc.if_else(inexact, pc.subtract(quotient, 1), quotient)
    raise ValueError(f"unknown partition transform {transform!r}")


def partitions(table: pa.Table, fields: list) -> list:
    """Split ``table`` into one slice per partition of ``fields``.

    The rows are sorted by partition (one copy of the table), then cut
    where the partition changes.
    """
    keys = {}
    for i, field in enumerate(fields):
        column = table.column(field["column"])
        if column.null_count:
            raise Declined(f"partition column {field['column']} holds nulls")
        keys[f"k{i}"] = partition_key(column, field)
    keys = pa.table(keys)
    order = pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in keys.column_names])
    table, keys = table.take(order), keys.take(order)
    n = table.num_rows
    changed = None
    for column in keys.columns:
        column = column.combine_chunks()
        step = pc.not_equal(column.slice(1), column.slice(0, n - 1))
        changed = step if changed is None else pc.or_(changed, step)
    cuts = [0] + ([i + 1 for i in pc.indices_nonzero(changed).to_pylist()] if n > 1 else []) + [n]
    return [table.slice(lo, hi - lo) for lo, hi in zip(cuts, cuts[1:]) if hi > lo]


class Declined(Exception):
    """An output this writer leaves to tarn's own writer."""


def write_partitioned(table: pa.Table, request: dict, compression: str, level) -> dict:
    try:
        groups = partitions(table, request["partition"])
    except Declined as exc:
        return {"declined": str(exc)}
    part_bytes = max(1, int(request.get("part_bytes") or 384 << 20))
    slices = []
    for group in groups:
        slices.extend(split(group, max(1, -(-group.nbytes // part_bytes))))
    paths = [os.path.join(request["dir"], f"part-{i:05d}.parquet") for i in range(len(slices))]
    return {"rows": table.num_rows, "paths": write_all(slices, paths, compression, level)}


def write_all(slices: list, paths: list, compression: str, level) -> list:
    """Write each slice to its path in parallel threads: all files or none."""
    threads = max(1, min(len(slices), os.cpu_count() or 1))
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(write_one, part, path, compression, level) for part, path in zip(slices, paths)]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        for path in paths:
            if os.path.exists(path):
                os.unlink(path)
        raise errors[0]
    return [f.result() for f in futures]


def write(request: dict) -> dict:
    with pa.memory_map(request["source"]) as source:
        table = pa.ipc.open_file(source).read_all()
        if table.num_rows == 0:
            return {"rows": 0, "paths": []}
        if request.get("schema"):
            target = pa.ipc.open_stream(base64.b64decode(request["schema"])).schema
            try:
                table = cast(table, target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
                return {"cannot_cast": str(exc)}
        table = with_field_ids(table, request["field_ids"])
        compression = request.get("compression") or "zstd"
        level = request.get("level") or None
        if request.get("partition"):
            return write_partitioned(table, request, compression, level)
        paths = request["paths"]
        slices = split(table, len(paths))
        return {"rows": table.num_rows, "paths": write_all(slices, paths[: len(slices)], compression, level)}


def main() -> int:
    try:
        result = write(json.load(sys.stdin))
    except Exception as exc:  # reported to tarn, which fails the run with it
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
