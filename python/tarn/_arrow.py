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

__all__ = ["to_table", "read_ipc_file", "write_ipc_file", "write_json"]

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


def write_ipc_file(table: pa.Table, path: str) -> int:
    """Write ``table`` as an Arrow IPC file, atomically (``path.tmp`` then rename); return its size."""
    tmp = path + ".tmp"
    try:
        with pa.OSFile(tmp, "wb") as sink:
            with pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return os.path.getsize(path)


def write_json(document: Any, path: str) -> None:
    """Write a JSON document atomically (``path.tmp`` then rename)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as sink:
        json.dump(document, sink, default=str)
        sink.write("\n")
    os.replace(tmp, path)
