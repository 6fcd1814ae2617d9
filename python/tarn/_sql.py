"""SQL steps: run a query with DuckDB over the step's input tables.

duckdb is imported only here, only when a SQL step runs. Each input
``pyarrow.Table`` is registered with ``con.register`` (DuckDB scans the Arrow
memory in place). An input keyed ``ns.table`` is reachable both as
``ns.table`` and, when no other input has the same table name, as ``table``.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~2 ms of worker start-up; annotations are never evaluated
    from typing import Any, Dict, Optional

import pyarrow as pa

__all__ = ["run", "error_line", "is_out_of_memory"]

_LINE = re.compile(r"\bLINE (\d+):")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _register(con: Any, tables: Dict[str, pa.Table]) -> None:
    bare_counts: Dict[str, int] = {}
    for key in tables:
        bare = key.rsplit(".", 1)[-1]
        bare_counts[bare] = bare_counts.get(bare, 0) + 1
    for index, (key, table) in enumerate(tables.items()):
        internal = f"__tarn_input_{index}"
        con.register(internal, table)
        schema, _, bare = key.rpartition(".")
        if schema:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
            con.execute(f"CREATE VIEW {_quote(schema)}.{_quote(bare)} AS SELECT * FROM {_quote(internal)}")
        if bare_counts[bare] == 1 or not schema:
            con.execute(f"CREATE VIEW {_quote(bare)} AS SELECT * FROM {_quote(internal)}")


def _fetch(relation: Any) -> pa.Table:
    # duckdb >= 1.4 has to_arrow_table(); older versions fetch_arrow_table();
    # in duckdb 2.x arrow() returns a RecordBatchReader rather than a Table.
    for method in ("to_arrow_table", "fetch_arrow_table", "arrow"):
        if hasattr(relation, method):
            result = getattr(relation, method)()
            return result.read_all() if isinstance(result, pa.RecordBatchReader) else result
    raise RuntimeError("this duckdb version offers no way to fetch Arrow tables")


def run(sql: str, tables: Dict[str, pa.Table], memory_limit_bytes: int = 0, parameters: Optional[Dict[str, Any]] = None) -> pa.Table:
    """Run ``sql`` over ``tables`` (keyed by the names the SQL uses) and return the result.

    ``$name`` in the SQL is the run parameter ``name``, bound by DuckDB as a
    value (a prepared statement's parameter), never spliced into the text.
    """
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        # The progress bar would be drawn into the user's streamed log.
        con.execute("SET enable_progress_bar = false")
        if memory_limit_bytes:
            # Leave DuckDB headroom below the process limit so it spills to disk
            # (in the step's scratch directory) instead of failing.
            con.execute(f"SET memory_limit = '{max(memory_limit_bytes * 3 // 4 // 2**20, 64)}MiB'")
        _register(con, tables)
        relation = con.sql(sql, params=parameters) if parameters else con.sql(sql)
        if relation is None:
            raise ValueError("the SQL produced no result; a SQL model must end with a SELECT query")
        return _fetch(relation)
    finally:
        con.close()


def error_line(exc: BaseException) -> Optional[int]:
    """The query line a DuckDB error points at ("LINE 3: ..."), if any."""
    match = _LINE.search(str(exc))
    return int(match.group(1)) if match else None


def is_out_of_memory(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryException"
