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
truncate with ``"width"`` on integer, date and timestamp columns; identity
on strings; bucket with ``"buckets"`` on integer, date, timestamp and
string columns), ``"dir"`` and ``"part_bytes"``: rows are grouped by their
partition (nulls being a partition of their own), each group is written
to files of at most about ``part_bytes`` of Arrow data named
``dir/part-NNNNN.parquet``, in parallel, and the answer's ``"partitions"``
holds, for each file, the source value of each partition field in its
rows (null, a number or a string; dates as days and timestamps as
microseconds since the epoch), from which tarn computes the file's
partition values with Iceberg's own transforms. A column this writer
cannot group by is declined (``{"declined": "..."}``, nothing written):
tarn writes that output through its own writer.
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

_U32 = pa.uint32()


def _u32(value: int):
    return pa.scalar(value, _U32)


def _rotl(x, r: int):
    return pc.bit_wise_or(pc.shift_left(x, _u32(r)), pc.shift_right(x, _u32(32 - r)))


def murmur3(blocks: list, tail: list, length: int, n: int):
    """Murmur3 x86 32-bit (seed 0) of ``n`` keys of ``length`` bytes each, in Arrow compute.

    ``blocks`` are uint32 arrays, one per little-endian 4-byte word of the
    keys, ``tail`` uint8 arrays, one per remaining byte. Unsigned
    multiplication and shifts wrap, as the hash needs (no NumPy: not every
    step environment has it).
    """
    c1, c2 = _u32(0xCC9E2D51), _u32(0x1B873593)

    def mix(k):
        return pc.multiply(_rotl(pc.multiply(k, c1), 15), c2)

    h = pa.array([0] * n, _U32) if n else pa.array([], _U32)
    for word in blocks:
        h = pc.bit_wise_xor(h, mix(word))
        h = pc.add(pc.multiply(_rotl(h, 13), _u32(5)), _u32(0xE6546B64))
    if tail:
        k = pa.array([0] * n, _U32)
        for j, byte in enumerate(tail):
            k = pc.bit_wise_xor(k, pc.shift_left(byte.cast(_U32), _u32(8 * j)))
        h = pc.bit_wise_xor(h, mix(k))
    h = pc.bit_wise_xor(h, _u32(length))
    h = pc.bit_wise_xor(h, pc.shift_right(h, _u32(16)))
    h = pc.multiply(h, _u32(0x85EBCA6B))
    h = pc.bit_wise_xor(h, pc.shift_right(h, _u32(13)))
    h = pc.multiply(h, _u32(0xC2B2AE35))
    return pc.bit_wise_xor(h, pc.shift_right(h, _u32(16)))


def _buckets_of(hashes, n: int):
    """(hash & 0x7FFFFFFF) mod n, as int32."""
    positive = pc.bit_wise_and(hashes.cast(pa.int64()), pa.scalar(0x7FFFFFFF, pa.int64()))
    return pc.subtract(positive, pc.multiply(pc.divide(positive, pa.scalar(n, pa.int64())), pa.scalar(n, pa.int64()))).cast(pa.int32())


def _bytes_at(binary, start: int, width: int):
    """The ``width`` bytes at ``start`` of each value of ``binary`` (all long enough), as uint32 (width 4) or uint8 (width 1)."""
    fixed = pc.binary_slice(binary, start, start + width).cast(pa.binary(width))
    kind = _U32 if width == 4 else pa.uint8()
    return pa.Array.from_buffers(kind, len(fixed), [None, fixed.buffers()[1]], offset=fixed.offset)


def bucket(column, n: int):
    """Iceberg's bucket transform of ``column`` into ``n`` buckets (nulls stay null).

    Integers, dates and timestamps hash as 8-byte little-endian longs,
    strings as their UTF-8 bytes (each distinct value once, grouped by
    length so that the hash runs over whole arrays).
    """
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_date32(kind) or pa.types.is_timestamp(kind):
        if pa.types.is_date32(kind):
            as_long = column.cast(pa.int32()).cast(pa.int64())
        elif pa.types.is_timestamp(kind):
            as_long = column.cast(pa.timestamp("us", kind.tz)).cast(pa.int64())
        else:
            as_long = column.cast(pa.int64())
        bits = pc.fill_null(as_long, 0).cast(pa.uint64(), safe=False)
        low = pc.bit_wise_and(bits, pa.scalar(0xFFFFFFFF, pa.uint64())).cast(_U32)
        high = pc.shift_right(bits, pa.scalar(32, pa.uint64())).cast(_U32)
        out = _buckets_of(murmur3([low, high], [], 8, len(column)), n)
        return pc.if_else(pc.is_null(column), pa.scalar(None, pa.int32()), out)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        encoded = pc.dictionary_encode(column.cast(pa.large_string()))
        uniques = encoded.dictionary.cast(pa.large_binary())
        lengths = pc.binary_length(uniques)
        positions, buckets = [], []
        for length in pc.unique(lengths).to_pylist():
            where = pc.indices_nonzero(pc.equal(lengths, length))
            chosen = uniques.take(where)
            whole = length // 4 * 4
            blocks = [_bytes_at(chosen, at, 4) for at in range(0, whole, 4)]
            tail = [_bytes_at(chosen, at, 1) for at in range(whole, length)]
            positions.append(where)
            buckets.append(_buckets_of(murmur3(blocks, tail, length, len(chosen)), n))
        if not positions:
            return pa.array([None] * len(column), pa.int32())
        order = pc.sort_indices(pa.concat_arrays(positions))
        of_unique = pc.take(pa.concat_arrays(buckets), order)
        return pc.take(of_unique, encoded.indices)
    raise Declined(f"bucket of a {kind} column")


def partition_key(column, field: dict):
    """Return an array equal for two rows exactly when ``field``'s transform is."""
    transform = field["transform"]
    if transform == "identity":
        return column
    if transform == "bucket":
        return bucket(column, int(field["buckets"]))
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

    The rows are sorted by partition (one copy of the table), nulls last,
    then cut where the partition changes: where two neighbours' keys
    differ, or one is null and the other not.
    """
    keys = {}
    for i, field in enumerate(fields):
        keys[f"k{i}"] = partition_key(table.column(field["column"]), field)
    keys = pa.table(keys)
    order = pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in keys.column_names], null_placement="at_end")
    table, keys = table.take(order), keys.take(order)
    n = table.num_rows
    changed = None
    for column in keys.columns:
        column = column.combine_chunks()
        after, before = column.slice(1), column.slice(0, n - 1)
        step = pc.or_(pc.fill_null(pc.not_equal(after, before), False), pc.xor(pc.is_null(after), pc.is_null(before)))
        changed = step if changed is None else pc.or_(changed, step)
    cuts = [0] + ([i + 1 for i in pc.indices_nonzero(changed).to_pylist()] if n > 1 else []) + [n]
    return [table.slice(lo, hi - lo) for lo, hi in zip(cuts, cuts[1:]) if hi > lo]


def source_value(column):
    """The first value of a partition's source column, as the answer gives it."""
    if pa.types.is_date32(column.type):
        column = column.cast(pa.int32())
    elif pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us", column.type.tz)).cast(pa.int64())
    return column[0].as_py()


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
    values = [[source_value(part.column(f["column"])) for f in request["partition"]] for part in slices]
    return {"rows": table.num_rows, "paths": write_all(slices, paths, compression, level), "partitions": values}


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
