"""Reading a step's inputs: lake tables from their Parquet files, and Arrow IPC files.

A lake input arrives planned by tarn (Iceberg pruned its files by partition
values and column statistics): the spec names the data files (bound
read-only into the sandbox), the table's Arrow schema, the columns and the
filter. The worker reads them with pyarrow's dataset scanner, every core
decoding, only the needed columns, with the filter pushed into the scan
(which also skips row groups by their statistics) — unless the filter
compares floating-point columns, whose statistics leave NaN out: then the
filter is applied to each batch after the scan. The rows kept are those
for which the filter is TRUE, as everywhere in tarn (:mod:`tarn._filter`).

The whole-table form reads into memory when the input's estimated size
fits half of the step's memory (or of the machine's available memory);
larger inputs are written batch by batch to an Arrow IPC file in the
step's scratch directory (on disk) and memory-mapped, so that a table
larger than memory still arrives as a ``pyarrow.Table``.

``batches=True`` inputs are iterators of ``pyarrow.RecordBatch`` instead:
memory stays flat in the size of the table.
"""

from __future__ import annotations

import base64
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~2 ms of worker start-up; annotations are never evaluated
    from typing import Any, Dict, Iterator, List, Optional

import pyarrow as pa

__all__ = ["Input", "open_input", "memory_budget"]

# Rows per batch of the scanner; readahead kept small so that a batches
# model's memory stays flat (a few row groups in flight).
BATCH_ROWS = 128 * 1024
FRAGMENT_READAHEAD = 2
BATCH_READAHEAD = 4


class Input:
    """One input being read: its statistics for the step's profile."""

    def __init__(self, key: str, entry: Dict[str, Any]) -> None:
        self.key, self.entry = key, entry
        self.rows = 0
        self.bytes = 0
        self.seconds = 0.0  # time spent reading (inside the iterator for batches)
        self.files = len(entry.get("files") or [])
        self.spooled = 0  # bytes written to a scratch file (whole-table form, larger than memory)
        self.whole = 0  # bytes of a lake input decoded whole into memory (whole-table form, in memory)

    def stats(self) -> Dict[str, Any]:
        out = {"rows": self.rows, "bytes": self.bytes, "seconds": self.seconds}
        if self.files:
            out["files"] = self.files
        if self.spooled:
            out["spooled_bytes"] = self.spooled
        return out


def memory_budget(limit_bytes: int) -> int:
    """What an input may take in memory: half the step's limit, or of the machine's available memory."""
    if limit_bytes:
        return limit_bytes // 2
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except (OSError, ValueError, IndexError):
        pass
    return 4 << 30


def _schema(entry: Dict[str, Any]) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(entry["schema"])))


def _float_columns(schema: pa.Schema, names: Any) -> bool:
    return any(pa.types.is_floating(schema.field(n).type) for n in names if n in schema.names)


class _LakeScan:
    """The scanner of a lake input's planned files."""

    def __init__(self, inp: Input, key: str) -> None:
        from . import _filter

        entry = inp.entry
        self.files: List[str] = entry["files"]
        self.schema = _schema(entry)
        self.columns: List[str] = list(entry.get("columns") or self.schema.names)
        self.predicate: Optional[str] = entry.get("filter") or None
        self.what = f"input {key}"
        read = list(self.columns)
        self.expression = None
        self.per_batch = False
        if self.predicate:
            needed = _filter.columns(_filter.parse(self.predicate))
            read += [c for c in self.schema.names if c in needed and c not in read]
            if _float_columns(self.schema, needed):
                self.per_batch = True  # statistics leave NaN out: no pruning by them
            else:
                try:
                    self.expression = _filter.to_expression(self.predicate, self.schema)
                except _filter.FilterError as exc:
                    raise _filter.FilterError(f"{self.what}: {exc}") from None
        self.read = [c for c in self.schema.names if c in read]  # the table's order
        self.out_schema = pa.schema([self.schema.field(c) for c in self.columns])

    def batches(self) -> Iterator[pa.RecordBatch]:
        import pyarrow.dataset as ds

        if not self.files:
            return
        dataset = ds.dataset(self.files, schema=self.schema, format="parquet")
        scanner = dataset.scanner(
            columns=self.read, filter=self.expression, batch_size=BATCH_ROWS, use_threads=True,
            batch_readahead=BATCH_READAHEAD, fragment_readahead=FRAGMENT_READAHEAD,
        )
        for batch in scanner.to_batches():
            if self.per_batch:
                from . import _filter

                batch = _filter.apply(pa.Table.from_batches([batch]), self.predicate, self.what).combine_chunks()
                batch = batch.to_batches()[0] if batch.num_rows else None
                if batch is None:
                    continue
            if batch.num_rows == 0:
                continue
            yield pa.RecordBatch.from_arrays([batch.column(c) for c in self.columns], schema=self.out_schema)


def open_input(key: str, entry: Dict[str, Any], memory_limit: int, scratch: str) -> Any:
    """Open one input: a ``pyarrow.Table``, or an iterator of batches with ``batches``; and its :class:`Input`."""
    inp = Input(key, entry)
    if entry.get("files") is not None:
        scan = _LakeScan(inp, key)
        if entry.get("batches"):
            return _counted(inp, scan.batches()), inp
        start = time.perf_counter()
        table = _whole(inp, scan, memory_limit, scratch)
        inp.seconds = time.perf_counter() - start
        return table, inp
    from . import _arrow

    start = time.perf_counter()
    if entry.get("batches"):
        batches = _arrow.ipc_batches(entry["path"], entry.get("columns"), entry.get("filter"), f"input {key}")
        inp.seconds = time.perf_counter() - start
        return _counted(inp, batches), inp
    table = _arrow.read_ipc_file(entry["path"])
    table = _arrow.narrow(table, f"input {key}", entry.get("columns"), entry.get("filter"))
    inp.seconds = time.perf_counter() - start
    inp.rows, inp.bytes = table.num_rows, table.nbytes
    return table, inp


def _whole(inp: Input, scan: _LakeScan, memory_limit: int, scratch: str) -> pa.Table:
    """The whole input as a Table: in memory, or spooled to disk and mapped when it may not fit."""
    estimate = int(inp.entry.get("estimated_bytes") or 0)
    if estimate <= memory_budget(memory_limit):
        batches = list(scan.batches())
        table = pa.Table.from_batches(batches, schema=scan.out_schema)
        inp.rows, inp.bytes = table.num_rows, table.nbytes
        inp.whole = table.nbytes
        return table
    from . import _arrow

    path = os.path.join(scratch, f"input-{os.getpid()}-{len(os.listdir(scratch))}.arrow")
    with pa.OSFile(path, "wb") as sink:
        with pa.ipc.new_file(sink, scan.out_schema) as writer:
            for batch in scan.batches():
                writer.write_batch(batch)
    inp.spooled = os.path.getsize(path)
    table = _arrow.read_ipc_file(path)
    os.unlink(path)  # the mapping keeps it until the step ends
    inp.rows, inp.bytes = table.num_rows, table.nbytes
    return table


def _counted(inp: Input, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Yield ``batches``, adding the time spent producing them, and their rows and bytes, to ``inp``."""
    while True:
        start = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            inp.seconds += time.perf_counter() - start
            return
        inp.seconds += time.perf_counter() - start
        inp.rows += batch.num_rows
        inp.bytes += batch.nbytes
        yield batch
