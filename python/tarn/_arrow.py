"""Turning what user code returns into a ``pyarrow.Table``, and Arrow IPC file I/O.

pandas, polars and duckdb are never imported here unless the value came from
them (they are looked up in ``sys.modules``), so the worker starts as fast
as ``import pyarrow``.
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~2 ms of worker start-up; annotations are never evaluated
    from typing import Any

import pyarrow as pa

__all__ = ["to_table", "to_batches", "read_ipc_file", "ipc_batches", "narrow", "write_ipc_file", "write_output", "write_json", "Sum64"]

SUPPORTED = (
    "pyarrow.Table, pyarrow.RecordBatch, pyarrow.RecordBatchReader, pandas.DataFrame, "
    "polars.DataFrame / LazyFrame, a list of dicts, a dict of columns, "
    "or any object with __arrow_c_stream__"
)


def to_table(value: Any) -> pa.Table:
    """Convert ``value`` to a ``pyarrow.Table``; raise ``TypeError`` naming the supported types."""
    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    if isinstance(value, pa.RecordBatchReader):
        return value.read_all()
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return _from_pandas(value)
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(value, (polars.DataFrame, polars.LazyFrame)):
        return _from_polars(polars, value)
    if isinstance(value, list):
        if not value:
            raise TypeError("an empty list has no columns; return an empty pyarrow.Table with a schema instead")
        if not all(isinstance(row, dict) for row in value):
            raise TypeError("a list must hold one dict per row, e.g. [{'id': 1, 'fare': 9.5}]")
        return pa.Table.from_pylist(value)
    if isinstance(value, dict):
        return pa.table(value)
    if hasattr(value, "__arrow_c_stream__"):
        return pa.table(value)
    if hasattr(value, "__arrow_c_array__"):
        return pa.Table.from_batches([pa.record_batch(value)])
    if value is None:
        raise TypeError(f"got None; return one of: {SUPPORTED}")
    raise TypeError(
        f"cannot turn a {type(value).__module__}.{type(value).__qualname__} into a table; return one of: {SUPPORTED}"
    )


def to_batches(value: Any) -> Any:
    """What a model returned as an iterator of ``pyarrow.RecordBatch`` (a generator of
    batches or tables, a RecordBatchReader), or None when it returned a whole table."""
    if isinstance(value, pa.RecordBatchReader):
        return iter(value)
    if hasattr(value, "__next__"):  # a generator or another iterator
        return _batches_of(value)
    return None


def _batches_of(items: Any) -> Any:
    for item in items:
        if isinstance(item, pa.RecordBatch):
            yield item
        elif isinstance(item, pa.Table):
            yield from item.to_batches()
        else:
            yield from to_table(item).to_batches()


def _from_pandas(frame: Any) -> pa.Table:
    # A named index (what groupby leaves behind) holds data: keep it as columns.
    # An unnamed index (the default RangeIndex) is dropped.
    if any(level is not None for level in frame.index.names):
        frame = frame.reset_index()
    return pa.Table.from_pandas(frame, preserve_index=False)


def _from_polars(polars: Any, frame: Any) -> pa.Table:
    if isinstance(frame, polars.LazyFrame):
        frame = frame.collect()
    compat = getattr(polars, "CompatLevel", None)
    if compat is not None:
        # The oldest level exports large_string instead of string_view, which
        # every Arrow reader (Go, Iceberg writers) understands.
        return frame.to_arrow(compat_level=compat.oldest())
    return frame.to_arrow()


def read_ipc_file(path: str) -> pa.Table:
    """Memory-map an Arrow IPC file and return its table (zero-copy: buffers point into the map).

    Arrow IPC stream format is accepted too (read into memory).
    """
    source = pa.memory_map(path, "r")
    if source.read(6) == b"ARROW1":
        source.seek(0)
        return pa.ipc.open_file(source).read_all()
    source.seek(0)
    return pa.ipc.open_stream(source).read_all()


def ipc_batches(path: str, columns: Any, predicate: Any, what: str) -> Any:
    """The record batches of an Arrow IPC file (memory-mapped), each narrowed to ``columns`` and ``predicate``."""
    source = pa.memory_map(path, "r")
    if source.read(6) == b"ARROW1":
        source.seek(0)
        reader = pa.ipc.open_file(source)
        batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
    else:
        source.seek(0)
        batches = iter(pa.ipc.open_stream(source))
    for batch in batches:
        table = narrow(pa.Table.from_batches([batch]), what, columns, predicate)
        for out in table.to_batches():
            if out.num_rows:
                yield out


def narrow(table: pa.Table, what: str, columns: Any, predicate: Any) -> pa.Table:
    """Apply an input's declared columns and filter (selecting is zero-copy; filtering copies)."""
    from ._exceptions import InputError

    if columns:
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise InputError(
                f"{what} has no column {', '.join(missing)} (columns: {', '.join(table.column_names)})"
            )
    if predicate:
        from . import _filter

        if columns:
            needed = set(columns) | _filter.columns(_filter.parse(predicate))
            table = table.select([c for c in table.column_names if c in needed])
        table = _filter.apply(table, predicate, what)
    return table.select(columns) if columns else table


_MASK = (1 << 64) - 1


class Sum64:
    """A file sink that sums the bytes it writes as little-endian 64-bit words (mod 2**64,
    the last word zero-padded): the cache's checksum of a step's output, computed while
    writing (numpy sums at memory speed) instead of by reading the file back."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "wb", buffering=0)
        self.total = 0
        self.size = 0
        self._tail = b""
        self.closed = False

    def write(self, data: Any) -> int:
        import pyarrow.compute as pc  # after the first write: cached

        view = memoryview(data).cast("B")
        written = len(view)
        rest = view
        while rest:
            rest = rest[self._file.write(rest):]
        self.size += written
        if self._tail:
            need = 8 - len(self._tail)
            self._tail += bytes(view[:need])
            view = view[need:]
            if len(self._tail) < 8:
                return written
            self.total = (self.total + int.from_bytes(self._tail, "little")) & _MASK
            self._tail = b""
        whole = len(view) // 8 * 8
        if whole:
            # native order: little-endian on every platform tarn runs on (x86-64, arm64)
            words = pa.Array.from_buffers(pa.uint64(), whole // 8, [None, pa.py_buffer(view[:whole])])
            self.total = (self.total + (pc.sum(words).as_py() or 0)) & _MASK
        self._tail = bytes(view[whole:])
        return written

    def checksum(self) -> str:
        """``sum64:`` and the sum in hex, the partial last word counted zero-padded."""
        total = (self.total + int.from_bytes(self._tail.ljust(8, b"\0"), "little")) & _MASK if self._tail else self.total
        return f"sum64:{total:016x}"

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self.closed = True


def write_output(value: Any, path: str, check: Any = None) -> dict:
    """Write a table, or an iterator of record batches (memory stays flat), as an Arrow IPC
    file, atomically; ``check`` is applied to each table or batch first. Return the
    file's rows, bytes, schema, checksum and the seconds spent writing (not producing)."""
    import time

    tmp = path + ".tmp"
    writing = 0.0
    rows = 0
    try:
        sink = Sum64(tmp)
        with pa.PythonFile(sink, mode="w") as stream:
            if isinstance(value, pa.Table):
                table = check(value) if check else value
                start = time.perf_counter()
                with pa.ipc.new_file(stream, table.schema) as writer:
                    writer.write_table(table)
                writing += time.perf_counter() - start
                rows, schema = table.num_rows, table.schema
            else:
                writer = None
                schema = None
                for batch in value:
                    if check:
                        batch = check(batch)
                    start = time.perf_counter()
                    if writer is None:
                        schema = batch.schema
                        writer = pa.ipc.new_file(stream, schema)
                    elif batch.schema != schema:
                        raise TypeError(f"a batch has the schema {batch.schema} but the first had {schema}")
                    writer.write_batch(batch)
                    rows += batch.num_rows
                    writing += time.perf_counter() - start
                if writer is None:
                    raise TypeError("the model returned no batches; yield at least one (it may be empty) so the output has columns")
                writer.close()
        sink.close()
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return {"rows": rows, "bytes": sink.size, "schema": schema, "checksum": sink.checksum(), "seconds": writing}


def write_ipc_file(table: pa.Table, path: str) -> int:
    """Write ``table`` as an Arrow IPC file, atomically (``path.tmp`` then rename); return its size."""
    return write_output(table, path)["bytes"]


def write_json(document: Any, path: str) -> None:
    """Write a JSON document atomically (``path.tmp`` then rename)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as sink:
        json.dump(document, sink, default=str)
        sink.write("\n")
    os.replace(tmp, path)
