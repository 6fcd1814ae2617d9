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
        paths = request["paths"]
        slices = split(table, len(paths))
        compression = request.get("compression") or "zstd"
        level = request.get("level") or None
        threads = max(1, min(len(slices), os.cpu_count() or 1))
        with ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(write_one, part, path, compression, level) for part, path in zip(slices, paths)]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            for path in paths:  # all files or none
                if os.path.exists(path):
                    os.unlink(path)
            raise errors[0]
        return {"rows": table.num_rows, "paths": [f.result() for f in futures]}


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
