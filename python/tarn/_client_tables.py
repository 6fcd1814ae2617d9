"""Namespaces and tables: the part of ``tarn.Client`` that lists, creates, plans, fills and
drops them, and the uploads that carry their data.

``Client`` inherits these methods; they use only its transport.
"""

from __future__ import annotations

import glob
import json
import os
import re
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Union

from ._client_http import DEFAULT_BRANCH, DEFAULT_NAMESPACE, Transport, make_error, multipart, path_segment, upload_name
from ._client_types import Commit, Namespace, PlanColumn, Table, TablePlan, WriteResult
from ._exceptions import InvalidError, NamespaceExistsError, NamespaceNotFoundError, TableNotFoundError

_SUPPORTED = (".parquet", ".pq", ".csv", ".tsv", ".jsonl", ".ndjson", ".json")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")  # namespaces and tables (tarn's validateIdent)

Columns = Sequence[Union[PlanColumn, Dict[str, Any]]]


class TableMethods:
    """Namespaces, tables and table plans (``tarn.Client`` inherits them)."""

    _http: Transport

    # --- namespaces -------------------------------------------------------------

    def list_namespaces(self, ref: Optional[str] = None) -> List[Namespace]:
        """Namespaces at ``ref`` (default ``main``), as :class:`tarn.Namespace` (``name``, ``tables``)."""
        return [Namespace.from_json(n) for n in self._http.call("GET", "/v1/namespaces", {"ref": ref or DEFAULT_BRANCH})]

    def get_namespace(self, name: str, ref: Optional[str] = None) -> Namespace:
        """Namespace ``name`` at ``ref`` (default ``main``); :class:`tarn.NamespaceNotFoundError` if there is none."""
        _check_name("namespace", name)
        names = []
        for ns in self.list_namespaces(ref):
            if ns.name == name:
                return ns
            names.append(ns.name)
        message = f"namespace {name!r} not found at {ref or DEFAULT_BRANCH}{_suggest(name, names)}"
        raise make_error("not_found", message, 404, resource="namespace")

    def has_namespace(self, name: str, ref: Optional[str] = None) -> bool:
        """Whether namespace ``name`` exists at ``ref`` (default ``main``). An invalid name raises InvalidError."""
        try:
            self.get_namespace(name, ref)
        except NamespaceNotFoundError:
            return False
        return True

    def create_namespace(
        self, name: str, branch: Optional[str] = None, message: Optional[str] = None, if_not_exists: bool = False
    ) -> Commit:
        """Create namespace ``name`` on ``branch`` (default ``main``); returns the commit.

        :class:`tarn.NamespaceExistsError` if it exists (or one differing only in case); with
        ``if_not_exists`` an existing one is left alone and the branch's head is returned.
        """
        body = {"branch": branch or DEFAULT_BRANCH, "namespace": name, "info": {"author": "", "message": message or ""}}
        try:
            return Commit.from_json(self._http.call("POST", "/v1/namespaces", body=body))
        except NamespaceExistsError:
            if not (if_not_exists and self.has_namespace(name, branch)):
                raise
        return self._head(branch)

    def drop_namespace(
        self, name: str, branch: Optional[str] = None, force: bool = False, if_exists: bool = False
    ) -> Commit:
        """Remove namespace ``name`` from ``branch`` (default ``main``); returns the commit.

        One with tables raises :class:`tarn.NamespaceNotEmptyError` unless ``force`` (which drops
        them too); a missing one :class:`tarn.NamespaceNotFoundError`, unless ``if_exists``
        (the branch's head is returned).
        """
        query = {"branch": branch or DEFAULT_BRANCH, "force": force}
        try:
            return Commit.from_json(self._http.call("DELETE", "/v1/namespaces/" + path_segment(name), query))
        except NamespaceNotFoundError:
            if not if_exists:
                raise
        return self._head(branch)

    def _head(self, branch: Optional[str]) -> Commit:
        return Commit.from_json(self._http.call("GET", "/v1/resolve", {"ref": branch or DEFAULT_BRANCH, "branch": True}))

    # --- tables -------------------------------------------------------------------

    def list_tables(self, ref: Optional[str] = None, namespace: Optional[str] = None) -> List[Table]:
        """Tables at ``ref`` (default ``main``; optionally of one namespace), as :class:`tarn.Table`
        (``namespace``, ``name``, ``rows``, ``files``, ``bytes``, ...) from the catalog alone."""
        answer = self._http.call("GET", "/v1/tables", {"ref": ref or DEFAULT_BRANCH, "namespace": namespace})
        return [Table.from_json(t) for t in answer.get("tables") or []]

    def get_table(self, name: str, ref: Optional[str] = None) -> Table:
        """Describe a table at ``ref`` (default ``main``): a :class:`tarn.Table` with its schema,
        partition spec, rows, files, snapshot and history. :class:`tarn.TableNotFoundError` (or
        :class:`tarn.NamespaceNotFoundError`) if there is none."""
        return Table.from_json(self._http.call("GET", "/v1/tables/" + path_segment(name), {"ref": ref or DEFAULT_BRANCH}))

    def has_table(self, name: str, ref: Optional[str] = None) -> bool:
        """Whether table ``name`` (``NAME`` or ``NAMESPACE.NAME``) exists at ``ref`` (default ``main``),
        from the catalog alone. An invalid name raises InvalidError."""
        ident = _ident(name)
        _check_name("table", ident["name"])
        try:
            tables = self.list_tables(ref, ident["namespace"])
        except NamespaceNotFoundError:
            return False
        return any(t.name == ident["name"] for t in tables)

    def create_table(
        self,
        name: str,
        data: Any,
        branch: Optional[str] = None,
        partition_by: Optional[str] = None,
        replace: bool = False,
        if_not_exists: bool = False,
        message: Optional[str] = None,
        columns: Optional[Columns] = None,
    ) -> WriteResult:
        """Create table ``name`` on ``branch`` (default ``main``) from ``data``, in one commit.

        ``data`` is a file path, glob or folder of Parquet, CSV or JSON Lines files (or a list
        of them), a ``pyarrow.Table`` / ``RecordBatch``, a pandas or polars DataFrame (uploaded
        as Parquet), or a ``pyarrow.Schema`` (an empty table). ``partition_by`` is a partition
        spec such as ``"day(pickup_at)"``. ``replace`` replaces an existing table;
        ``if_not_exists`` leaves it alone (the result's ``existed`` is True).
        ``columns`` (plan columns: ``name``, Iceberg ``type``, ``required``) override the
        inferred schema, as :meth:`apply_table_creation_plan` does. Returns a
        :class:`tarn.WriteResult`; :class:`tarn.TableExistsError` when the table exists.
        """
        request = _create_request(name, branch, partition_by, replace, if_not_exists, message)
        if columns:
            request["columns"] = [_column(c) for c in columns]
        return WriteResult.from_json(self._upload("/v1/tables", request, data))

    def import_data(self, name: str, data: Any, branch: Optional[str] = None, message: Optional[str] = None) -> WriteResult:
        """Append ``data`` (as for :meth:`create_table`) to table ``name`` on ``branch`` (default ``main``).

        New columns evolve the schema (listed in ``schema_changes``). Returns a
        :class:`tarn.WriteResult` with ``added_rows``.
        """
        request = {"branch": branch or DEFAULT_BRANCH, "info": {"author": "", "message": message or ""}}
        return WriteResult.from_json(self._upload("/v1/tables/" + path_segment(name) + "/import", request, data))

    def drop_table(
        self, name: str, branch: Optional[str] = None, message: Optional[str] = None, if_exists: bool = False
    ) -> Commit:
        """Remove table ``name`` from ``branch`` (default ``main``); returns the commit.

        :class:`tarn.TableNotFoundError` if there is none, unless ``if_exists`` (the branch's
        head is returned).
        """
        query = {"branch": branch or DEFAULT_BRANCH, "message": message}
        try:
            return Commit.from_json(self._http.call("DELETE", "/v1/tables/" + path_segment(name), query))
        except (TableNotFoundError, NamespaceNotFoundError):
            if not if_exists:
                raise
        return self._head(branch)

    def delete_table(
        self, name: str, branch: Optional[str] = None, message: Optional[str] = None, if_exists: bool = False
    ) -> Commit:
        """The same as :meth:`drop_table`."""
        return self.drop_table(name, branch, message, if_exists)

    def revert_table(self, name: str, to: str, branch: Optional[str] = None, message: Optional[str] = None) -> WriteResult:
        """Set table ``name`` on ``branch`` (default ``main``) back to its state at ref ``to``."""
        body = {"branch": branch or DEFAULT_BRANCH, "to": to, "info": {"author": "", "message": message or ""}}
        return WriteResult.from_json(self._http.call("POST", "/v1/tables/" + path_segment(name) + "/revert", body=body))

    # --- plans --------------------------------------------------------------------

    def plan_table_creation(
        self,
        name: str,
        data: Any = None,
        schema: Any = None,
        branch: Optional[str] = None,
        partition_by: Optional[str] = None,
        replace: bool = False,
        if_not_exists: bool = False,
    ) -> TablePlan:
        """What :meth:`create_table` would create, worked out by the server without writing.

        Give ``data`` (as for :meth:`create_table`: the server infers the schema from it) or a
        ``schema`` (a ``pyarrow.Schema``: an empty table). The server checks everything a create
        checks (the branch, the namespace, an existing table, the names and types, the partition
        spec) and raises the same errors. Returns a :class:`tarn.TablePlan`: ``table``,
        ``branch``, ``commit``, ``action``, ``columns``, ``partition_by``, ``partition_spec``,
        ``files``. Edit its ``columns`` (types such as ``decimal(10,2)``) or ``partition_by``,
        then create the table with :meth:`apply_table_creation_plan`.
        """
        if (data is None) == (schema is None):
            raise InvalidError("plan_table_creation needs data (files or a table) or a schema (a pyarrow.Schema), not both")
        if schema is not None:
            import pyarrow as pa

            if not isinstance(schema, pa.Schema):
                raise InvalidError(f"schema must be a pyarrow.Schema, not a {type(schema).__name__}")
            data = schema
        request = _create_request(name, branch, partition_by, replace, if_not_exists, None)
        plan = TablePlan.from_json(self._upload("/v1/tables", request, data, {"plan": True}))
        plan.data = data
        return plan

    def apply_table_creation_plan(
        self, plan: Union[TablePlan, Dict[str, Any]], data: Any = None, message: Optional[str] = None
    ) -> WriteResult:
        """Create the table a :class:`tarn.TablePlan` describes (its columns and partition spec,
        as edited), uploading ``data`` (default: what the plan was made from) in one commit.

        A plan of action ``replace`` replaces the table, one of ``keep`` leaves it alone. The
        server checks the create again, so a table created on the branch since the plan raises
        :class:`tarn.TableExistsError`. A plan as a dict (``plan.to_dict()``) needs ``data``.
        """
        if isinstance(plan, dict):
            plan = TablePlan.from_json(plan)
        if not isinstance(plan, TablePlan):
            raise InvalidError(f"apply_table_creation_plan needs a TablePlan (from plan_table_creation), not a {type(plan).__name__}")
        source = data if data is not None else plan.data
        if source is None:
            raise InvalidError(f"the plan of {plan.table} holds no data: pass data= (the files or table to create it from)")
        return self.create_table(
            plan.table,
            source,
            branch=plan.branch,
            partition_by=plan.partition_by,
            replace=plan.action == "replace",
            if_not_exists=plan.action == "keep",
            message=message,
            columns=plan.columns or None,
        )

    def _upload(self, path: str, request: Dict[str, Any], data: Any, query: Optional[Dict[str, Any]] = None) -> Any:
        with tempfile.TemporaryDirectory(prefix="tarn-upload-") as scratch:
            files = _data_files(data, scratch)
            parts = [("request", None, json.dumps(request).encode())]
            parts += [("file", upload_name(f), f) for f in files]
            body, content_type, length = multipart(parts)  # type: ignore[arg-type]
            resp = self._http.open("POST", path, query, body=body, content_type=content_type, content_length=length)
            try:
                return json.loads(resp.read())
            finally:
                resp.close()


# --- helpers -----------------------------------------------------------------


def _ident(name: str) -> Dict[str, str]:
    namespace, dot, table = name.partition(".")
    if not dot:
        namespace, table = DEFAULT_NAMESPACE, name
    return {"namespace": namespace, "name": table}


def _check_name(what: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidError(f"invalid {what} name {name!r}: use letters, digits and _ (not starting with a digit), at most 128")


def _suggest(name: str, candidates: List[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _create_request(
    name: str, branch: Optional[str], partition_by: Optional[str], replace: bool, if_not_exists: bool, message: Optional[str]
) -> Dict[str, Any]:
    if replace and if_not_exists:
        raise InvalidError("replace and if_not_exists contradict each other: give one")
    request: Dict[str, Any] = {"table": _ident(name), "branch": branch or DEFAULT_BRANCH}
    if partition_by:
        request["partition_by"] = partition_by
    if replace:
        request["replace"] = True
    if if_not_exists:
        request["if_not_exists"] = True
    request["info"] = {"author": "", "message": message or ""}
    return request


def _column(c: Union[PlanColumn, Dict[str, Any]]) -> Dict[str, Any]:
    d = c.to_dict() if isinstance(c, PlanColumn) else dict(c)
    if not isinstance(d.get("name"), str) or not isinstance(d.get("type"), str):
        raise InvalidError(f"a column needs a name and an Iceberg type (e.g. {{'name': 'fare', 'type': 'double'}}), not {c!r}")
    out = {"name": d["name"], "type": d["type"]}
    if d.get("required"):
        out["required"] = True
    return out


def _data_files(data: Any, scratch: str) -> List[str]:
    """The files to upload for ``data``: the paths it names, or one Parquet file written from a table."""
    if isinstance(data, (str, os.PathLike)):
        return _expand([os.fspath(data)])
    if isinstance(data, (list, tuple)) and data and all(isinstance(d, (str, os.PathLike)) for d in data):
        return _expand([os.fspath(d) for d in data])
    table = _to_arrow(data)
    import pyarrow.parquet as pq

    path = os.path.join(scratch, "data.parquet")
    pq.write_table(table, path)
    return [path]


def _to_arrow(data: Any) -> Any:
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.Schema):
        return data.empty_table()
    module = type(data).__module__.split(".", 1)[0]
    if module == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False)
    if module == "polars":
        return data.to_arrow()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise InvalidError(
        f"cannot upload a {type(data).__name__}: give a file path (Parquet, CSV, JSON Lines), "
        "a pyarrow.Table, a pandas or polars DataFrame, or a pyarrow.Schema"
    )


def _expand(patterns: List[str]) -> List[str]:
    out: List[str] = []
    for p in patterns:
        if any(ch in p for ch in "*?["):
            hidden = os.path.basename(p).startswith(".")
            matches = [m for m in sorted(glob.glob(p)) if hidden or not os.path.basename(m).startswith(".")]
            matches = [m for m in matches if os.path.isfile(m) and m.lower().endswith(_SUPPORTED)]
            if not matches:
                raise InvalidError(f"no supported file matches {p!r} (supported: {', '.join(_SUPPORTED)})")
            out += matches
        elif os.path.isdir(p):
            found = [
                os.path.join(p, n)
                for n in sorted(os.listdir(p))
                if not n.startswith((".", "_")) and n.lower().endswith(_SUPPORTED) and os.path.isfile(os.path.join(p, n))
            ]
            if not found:
                raise InvalidError(f"{p}: directory has no supported file (supported: {', '.join(_SUPPORTED)})")
            out += found
        elif os.path.isfile(p):
            if not p.lower().endswith(_SUPPORTED):
                raise InvalidError(f"{p}: unsupported file extension {os.path.splitext(p)[1]!r} (supported: {', '.join(_SUPPORTED)})")
            out.append(p)
        else:
            raise InvalidError(f"{p}: no such file or directory")
    return list(dict.fromkeys(out))
