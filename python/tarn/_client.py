"""``tarn.Client``: the lakehouse from Python, through the HTTP API of ``tarn serve``.

The client speaks the same API as the Go client the CLI uses (``client/``),
so a script sees the same branches, tables and runs as ``tarn`` commands.
Only the standard library and pyarrow; pandas and polars when asked for.
"""

from __future__ import annotations

import glob
import http.client
import os
import tempfile
import time
import weakref
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

from ._client_http import EmbeddedServer, Transport, decode_header, default_home, make_error, multipart, path_segment
from ._client_http import resolve_remote, upload_name
from ._client_pack import DEFAULT_PROJECT_LIMIT, pack
from ._client_types import RunResult, format_event, print_event
from ._exceptions import InvalidError, TarnError

DEFAULT_BRANCH = "main"
DEFAULT_NAMESPACE = "tarn"
_QUERY_INFO = b"tarn.query"  # the schema metadata key of a result's description (server.MetaQuery)
_SUPPORTED = (".parquet", ".pq", ".csv", ".tsv", ".jsonl", ".ndjson", ".json")

PathLike = Union[str, "os.PathLike[str]"]
EventHandler = Callable[[Dict[str, Any]], None]


class Client:
    """A connection to a tarn lakehouse.

    ``endpoint`` and ``token`` default to ``TARN_ENDPOINT`` / ``TARN_TOKEN``,
    then to the profile file that ``tarn config set endpoint|token`` writes
    (``$TARN_CONFIG``, default ``~/.config/tarn/config.yml`` on Linux).

    **Embedded mode.** With no endpoint anywhere, the client starts a private
    ``tarn serve --insecure-local`` on a free loopback port over ``home``
    (default ``$TARN_HOME``, else ``~/.tarn``), using the ``tarn`` binary
    (``$TARN_BIN``, else ``tarn`` on ``PATH``), waits until it is ready and
    stops it on :meth:`close`, when a ``with`` block ends, when the client is
    garbage-collected, or when the interpreter exits. ``home`` is used only
    in embedded mode. Everything else works the same in both modes.

    Refs (``ref=``) are a branch, a tag, a commit hash (8+ hex chars),
    ``REF~N`` or ``REF@{2026-05-19T06:11:33Z}``; reads default to ``main``.
    Writes go to a branch (``branch=``, default ``main``). Tables are ``NAME``
    (namespace ``tarn``) or ``NAMESPACE.NAME``.

    Errors derive from :class:`tarn.TarnError`: :class:`tarn.NotFoundError`,
    :class:`tarn.ConflictError` (conflicts and things that already exist),
    :class:`tarn.UnauthorizedError`, :class:`tarn.ForbiddenError`,
    :class:`tarn.InvalidError`; each has ``.code`` (the server's error code)
    and ``.status`` (the HTTP status). A server that cannot be reached is a
    plain ``TarnError`` naming the endpoint.
    """

    def __init__(
        self,
        endpoint: Optional[str] = None,
        token: Optional[str] = None,
        home: Optional[PathLike] = None,
        timeout: Optional[float] = None,
    ) -> None:
        endpoint, token = resolve_remote(endpoint, token)
        self._server: Optional[EmbeddedServer] = None
        if endpoint is None:
            self._server = EmbeddedServer(os.fspath(home) if home is not None else default_home())
            assert self._server.endpoint is not None
            weakref.finalize(self, self._server.stop)  # a client dropped without close() stops it too
            endpoint, token = self._server.endpoint, None
        self._http = Transport(endpoint, token, timeout=timeout)
        self.last_query_info: Optional[Dict[str, Any]] = None
        """What the server said about the last query: commit, columns, tables scanned, plan time."""

    # --- lifecycle ----------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The server's URL (in embedded mode, the private server's)."""
        return self._http.endpoint

    @property
    def mode(self) -> str:
        """``"embedded"`` when this client started its own server, else ``"remote"``."""
        return "embedded" if self._server is not None else "remote"

    @property
    def server_pid(self) -> Optional[int]:
        """The process id of the embedded server, or None in remote mode."""
        return self._server.process.pid if self._server is not None else None

    def close(self) -> None:
        """Stop the embedded server, if this client started one. Safe to call twice."""
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"tarn.Client({self.endpoint!r}, mode={self.mode!r})"

    def whoami(self) -> Dict[str, Any]:
        """The calling user: ``{"name", "admin", ...}`` (``local``, an admin, without tokens)."""
        return self._http.call("GET", "/v1/whoami")

    # --- branches, tags, commits -------------------------------------------

    def list_branches(self) -> List[Dict[str, Any]]:
        """Branches by name: ``[{"name", "kind": "branch", "commit"}]``."""
        return self._http.call("GET", "/v1/refs", {"kind": "branch"})

    def list_tags(self) -> List[Dict[str, Any]]:
        """Tags by name: ``[{"name", "kind": "tag", "commit"}]``."""
        return self._http.call("GET", "/v1/refs", {"kind": "tag"})

    def get_ref(self, name: str) -> Dict[str, Any]:
        """One branch or tag: ``{"name", "kind", "commit"}``; NotFoundError if there is none."""
        return self._http.call("GET", "/v1/refs/" + path_segment(name))

    def create_branch(self, name: str, from_ref: Optional[str] = None) -> Dict[str, Any]:
        """Create branch ``name`` at ``from_ref`` (default ``main``); ConflictError if it exists."""
        return self._http.call("POST", "/v1/refs", body={"kind": "branch", "name": name, "from": from_ref or DEFAULT_BRANCH})

    def delete_branch(self, name: str) -> None:
        """Delete a branch (its commits stay reachable from other refs)."""
        self._http.call("DELETE", "/v1/refs/" + path_segment(name), {"kind": "branch"})

    def create_tag(self, name: str, from_ref: Optional[str] = None) -> Dict[str, Any]:
        """Tag the commit at ``from_ref`` (default ``main``) as ``name`` (admins only on a server with tokens)."""
        return self._http.call("POST", "/v1/refs", body={"kind": "tag", "name": name, "from": from_ref or DEFAULT_BRANCH})

    def delete_tag(self, name: str) -> None:
        """Delete a tag (admins only on a server with tokens)."""
        self._http.call("DELETE", "/v1/refs/" + path_segment(name), {"kind": "tag"})

    def merge_branch(
        self, source: str, into: str = DEFAULT_BRANCH, message: Optional[str] = None, no_ff: bool = False
    ) -> Dict[str, Any]:
        """Merge ref ``source`` into branch ``into`` (three-way at table granularity).

        Returns ``{"source", "into", "commit", "fast_forward", "up_to_date",
        "base", "changes"}``. A table changed on both sides raises
        ConflictError naming it, and nothing is written. ``no_ff`` makes a
        merge commit even when a fast-forward is possible.
        """
        body: Dict[str, Any] = {"source": source, "into": into, "info": {"author": "", "message": message or ""}}
        if no_ff:
            body["no_ff"] = True
        return self._http.call("POST", "/v1/merge", body=body)

    def resolve(self, ref: Optional[str] = None) -> Dict[str, Any]:
        """The commit a ref expression names (default ``main``)."""
        return self._http.call("GET", "/v1/resolve", {"ref": ref or DEFAULT_BRANCH})

    def get_commits(self, ref: Optional[str] = None, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """History of ``ref`` (default ``main``), newest first: ``[{"hash", "parents", "author", "message", "time", ...}]``.

        ``limit`` caps the count (the server's default is 20; 0 means all).
        """
        return self._http.call("GET", "/v1/log", {"ref": ref or DEFAULT_BRANCH, "limit": None if limit is None else int(limit)})

    def diff(self, from_ref: str, to_ref: str) -> List[Dict[str, Any]]:
        """Table changes from one ref to another: ``[{"key", "change": "added|removed|changed", "old", "new"}]``."""
        return self._http.call("GET", "/v1/diff", {"from": from_ref, "to": to_ref})

    # --- namespaces and tables ----------------------------------------------

    def list_namespaces(self, ref: Optional[str] = None) -> List[Dict[str, Any]]:
        """Namespaces at ``ref``: ``[{"name", "tables"}]``."""
        return self._http.call("GET", "/v1/namespaces", {"ref": ref or DEFAULT_BRANCH})

    def create_namespace(self, name: str, branch: Optional[str] = None, message: Optional[str] = None) -> Dict[str, Any]:
        """Create namespace ``name`` on ``branch`` (default ``main``); returns the commit."""
        body = {"branch": branch or DEFAULT_BRANCH, "namespace": name, "info": {"author": "", "message": message or ""}}
        return self._http.call("POST", "/v1/namespaces", body=body)

    def drop_namespace(self, name: str, branch: Optional[str] = None, force: bool = False) -> Dict[str, Any]:
        """Remove namespace ``name`` from ``branch`` (``force``: with its tables); returns the commit."""
        query = {"branch": branch or DEFAULT_BRANCH, "force": force}
        return self._http.call("DELETE", "/v1/namespaces/" + path_segment(name), query)

    def list_tables(self, ref: Optional[str] = None, namespace: Optional[str] = None) -> List[Dict[str, Any]]:
        """Tables at ``ref`` (optionally one namespace): ``[{"table": {"namespace", "name"}, "rows", "files", "bytes", ...}]``."""
        answer = self._http.call("GET", "/v1/tables", {"ref": ref or DEFAULT_BRANCH, "namespace": namespace})
        return answer.get("tables") or []

    def get_table(self, name: str, ref: Optional[str] = None) -> Dict[str, Any]:
        """Describe a table at ``ref``: schema, partition spec, rows, files, snapshot, history."""
        return self._http.call("GET", "/v1/tables/" + path_segment(name), {"ref": ref or DEFAULT_BRANCH})

    def create_table(
        self,
        name: str,
        data: Any,
        branch: Optional[str] = None,
        partition_by: Optional[str] = None,
        replace: bool = False,
        if_not_exists: bool = False,
        message: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Create table ``name`` on ``branch`` (default ``main``) from ``data``, in one commit.

        ``data`` is a file path, glob or folder of Parquet, CSV or JSON Lines
        files (or a list of them), a ``pyarrow.Table`` / ``RecordBatch``, or a
        pandas or polars DataFrame (uploaded as Parquet). ``partition_by`` is
        a partition spec such as ``"day(pickup_at)"``. ``replace`` replaces
        an existing table; ``if_not_exists`` leaves it alone. Returns the
        write result ``{"table", "branch", "commit", "added_rows", ...}``;
        ConflictError when the table exists.
        """
        request: Dict[str, Any] = {"table": _ident(name), "branch": branch or DEFAULT_BRANCH}
        if partition_by:
            request["partition_by"] = partition_by
        if replace:
            request["replace"] = True
        if if_not_exists:
            request["if_not_exists"] = True
        request["info"] = {"author": "", "message": message or ""}
        return self._upload("/v1/tables", request, data)

    def import_data(self, name: str, data: Any, branch: Optional[str] = None, message: Optional[str] = None) -> Dict[str, Any]:
        """Append ``data`` (as for :meth:`create_table`) to table ``name`` on ``branch`` (default ``main``).

        New columns evolve the schema (listed in ``"schema_changes"``).
        Returns the write result with ``"added_rows"``.
        """
        request = {"branch": branch or DEFAULT_BRANCH, "info": {"author": "", "message": message or ""}}
        return self._upload("/v1/tables/" + path_segment(name) + "/import", request, data)

    def drop_table(self, name: str, branch: Optional[str] = None, message: Optional[str] = None) -> Dict[str, Any]:
        """Remove table ``name`` from ``branch`` (default ``main``); returns the commit."""
        query = {"branch": branch or DEFAULT_BRANCH, "message": message}
        return self._http.call("DELETE", "/v1/tables/" + path_segment(name), query)

    def revert_table(self, name: str, to: str, branch: Optional[str] = None, message: Optional[str] = None) -> Dict[str, Any]:
        """Set table ``name`` on ``branch`` (default ``main``) back to its state at ref ``to``."""
        body = {"branch": branch or DEFAULT_BRANCH, "to": to, "info": {"author": "", "message": message or ""}}
        return self._http.call("POST", "/v1/tables/" + path_segment(name) + "/revert", body=body)

    def _upload(self, path: str, request: Dict[str, Any], data: Any) -> Dict[str, Any]:
        import json

        with tempfile.TemporaryDirectory(prefix="tarn-upload-") as scratch:
            files = _data_files(data, scratch)
            parts = [("request", None, json.dumps(request).encode())]
            parts += [("file", upload_name(f), f) for f in files]
            body, content_type, length = multipart(parts)  # type: ignore[arg-type]
            resp = self._http.open("POST", path, body=body, content_type=content_type, content_length=length)
            try:
                return json.loads(resp.read())
            finally:
                resp.close()

    # --- queries --------------------------------------------------------------

    def query_batches(self, sql: str, ref: Optional[str] = None, namespace: Optional[str] = None) -> Iterator[Any]:
        """Run ``sql`` at ``ref`` (default ``main``) and yield ``pyarrow.RecordBatch`` es as they arrive.

        For results too big to hold at once: nothing is buffered beyond one
        batch. ``namespace`` sets the default namespace of unqualified names.
        An error the server reports after the first rows raises at the end.
        """
        resp = self._query(sql, ref, namespace)
        try:
            reader, metadata = self._open_stream(resp)
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (OSError, ValueError, http.client.HTTPException) as e:
                    raise self._stream_failure(resp, e) from None
                yield batch.replace_schema_metadata(metadata)
            self._check_trailer(resp)
        finally:
            resp.close()

    def query(self, sql: str, ref: Optional[str] = None, namespace: Optional[str] = None) -> Any:
        """Run ``sql`` (DuckDB SQL over the tables at ``ref``, default ``main``) and return a ``pyarrow.Table``.

        The result streams from the server as Arrow IPC and is read batch by
        batch. Bad SQL raises InvalidError, an unknown table NotFoundError.
        """
        resp = self._query(sql, ref, namespace)
        try:
            reader, metadata = self._open_stream(resp)
            try:
                table = reader.read_all()
            except (OSError, ValueError, http.client.HTTPException) as e:
                raise self._stream_failure(resp, e) from None
            self._check_trailer(resp)
            return table.replace_schema_metadata(metadata)
        finally:
            resp.close()

    def query_to_pandas(self, sql: str, ref: Optional[str] = None, namespace: Optional[str] = None) -> Any:
        """:meth:`query` as a pandas DataFrame (needs pandas)."""
        return self.query(sql, ref, namespace).to_pandas()

    def query_to_polars(self, sql: str, ref: Optional[str] = None, namespace: Optional[str] = None) -> Any:
        """:meth:`query` as a polars DataFrame (needs polars)."""
        import polars as pl

        return pl.from_arrow(self.query(sql, ref, namespace))

    def scan(
        self,
        table: str,
        columns: Optional[Sequence[str]] = None,
        filter: Optional[str] = None,
        ref: Optional[str] = None,
    ) -> Any:
        """Read table ``table`` at ``ref`` (default ``main``) as a ``pyarrow.Table``.

        ``columns`` selects columns (default all); ``filter`` keeps rows
        matching a predicate in the syntax of ``tarn.Model(filter=...)``
        (comparisons, ``AND OR NOT``, ``IN``, ``IS NULL``, ``BETWEEN``,
        ``LIKE``, literals): it is checked here, so it cannot inject SQL,
        and a bad one raises ``tarn.FilterError``. Runs as a query, so file
        pruning and column projection happen on the server.
        """
        return self.query(scan_sql(table, columns, filter), ref)

    def _query(self, sql: str, ref: Optional[str], namespace: Optional[str]) -> Any:
        body: Dict[str, Any] = {"sql": sql, "ref": ref or DEFAULT_BRANCH}
        if namespace:
            body["namespace"] = namespace
        import json

        self.last_query_info = None
        return self._http.open("POST", "/v1/query", body=json.dumps(body).encode(), content_type="application/json")

    def _open_stream(self, resp: Any) -> Any:
        """The Arrow stream reader of a query response and its schema metadata without the query's
        description, which the server puts there (``tarn.query``) and which becomes ``last_query_info``."""
        import json

        import pyarrow as pa

        try:
            reader = pa.ipc.open_stream(resp)
        except (OSError, ValueError, http.client.HTTPException) as e:
            raise self._stream_failure(resp, e) from None
        metadata = dict(reader.schema.metadata or {})
        info = metadata.pop(_QUERY_INFO, None)
        self.last_query_info = json.loads(info) if info else None
        return reader, metadata or None

    def _stream_failure(self, resp: Any, cause: BaseException) -> TarnError:
        """A result stream the server broke off: the error its job ended with (as the Go client reads it)."""
        job_id = resp.getheader("X-Tarn-Job")
        deadline = time.monotonic() + 10
        while job_id and time.monotonic() < deadline:
            try:
                job = self.get_job(job_id)
            except TarnError:
                break
            if job.get("state") not in ("queued", "running"):
                err = job.get("error")
                if err:
                    return make_error(err.get("code", "internal"), err.get("message", ""))
                break
            time.sleep(0.02)
        return TarnError(f"the result stream from the server broke off: {cause}")

    def _check_trailer(self, resp: Any) -> None:
        resp.read()  # the rest of the body: the trailers come after it
        late = decode_header(getattr(resp, "trailers", {}).get("x-tarn-error"))
        if late:
            err = late.get("error") or {}
            raise make_error(err.get("code", "internal"), err.get("message", "the query failed while streaming"))

    # --- runs and jobs ----------------------------------------------------------

    def run(
        self,
        project_dir: PathLike = ".",
        ref: Optional[str] = None,
        params: Optional[Dict[str, Any]] = None,
        dry_run: bool = False,
        no_cache: bool = False,
        strict: bool = False,
        preview: int = 0,
        on_event: Optional[EventHandler] = None,
        check: bool = True,
    ) -> RunResult:
        """Run the project in ``project_dir`` on branch ``ref`` (default ``main``), as ``tarn run`` does.

        The folder is packed like the CLI packs it (its ``.gitignore`` is
        honoured; ``.git``, ``.venv``, ``__pycache__`` … are left out; at most
        64 MiB) and uploaded; the server runs it as a job next to the data.
        ``params`` are ``tarn.Parameter`` values; ``dry_run`` runs the steps
        but materializes nothing; ``no_cache`` ignores the run cache;
        ``preview`` > 0 sends each output's first rows as ``preview`` events.

        Events stream to ``on_event(event)`` as they happen: dicts with
        ``kind`` (``start plan env step log preview publish info``), ``step``,
        ``step_kind``, ``state``, ``rows``, ``duration_ns``, ``message``. The
        default prints step lines and user logs to stderr like the CLI;
        pass ``on_event=lambda e: None`` for silence.

        A KeyboardInterrupt (Ctrl-C) cancels the job; a dropped connection
        does not (the run goes on: follow it with :meth:`job_logs`).

        Returns a :class:`RunResult` with every step's result. When the run
        fails and ``check`` is True, raises the TarnError subclass of its
        error with the result as ``.result``; with ``check=False`` it is
        returned (``result.ok`` is False).
        """
        handler = print_event if on_event is None else on_event
        final: Optional[Dict[str, Any]] = None
        job: Optional[Dict[str, Any]] = None
        lines = self._submit(project_dir, ref, params, dry_run, no_cache, strict, preview, detach=False)
        try:
            for line in lines:
                if line.get("event") is not None:
                    handler(line["event"])
                elif line.get("done") and line.get("job") is not None:
                    final = line["job"]
                elif line.get("job") is not None:
                    job = line["job"]
        except KeyboardInterrupt:  # Ctrl-C stops the run, as in the CLI
            if job is not None and final is None:
                try:
                    self.cancel_job(job["id"])
                except TarnError:
                    pass
            raise
        if final is None:
            job_id = job["id"] if job else "?"
            raise TarnError(
                f"lost the connection to {self.endpoint} during the run; the run goes on there as job {job_id} "
                f"(client.job_logs({job_id!r}, follow=True))"
            )
        result = RunResult.from_job(final)
        if not result.ok and check:
            if result.state == "cancelled":
                err = make_error("cancelled", f"run job {result.job_id} was cancelled; nothing was published")
            else:
                err = make_error(result.error_code or "internal", result.error or f"run job {result.job_id} {result.state}")
            err.result = result  # type: ignore[attr-defined]
            raise err
        return result

    def submit_run(
        self,
        project_dir: PathLike = ".",
        ref: Optional[str] = None,
        params: Optional[Dict[str, Any]] = None,
        dry_run: bool = False,
        no_cache: bool = False,
        strict: bool = False,
    ) -> Dict[str, Any]:
        """Start a run as a job and return the job (``{"id", "state", ...}``) at once, like ``tarn run --detach``.

        Follow it with :meth:`job_logs` (``follow=True``) and :meth:`get_job`.
        """
        return list(self._submit(project_dir, ref, params, dry_run, no_cache, strict, 0, detach=True))[0]

    def _submit(
        self,
        project_dir: PathLike,
        ref: Optional[str],
        params: Optional[Dict[str, Any]],
        dry_run: bool,
        no_cache: bool,
        strict: bool,
        preview: int,
        detach: bool,
    ) -> Iterator[Dict[str, Any]]:
        import json

        request: Dict[str, Any] = {"ref": ref or DEFAULT_BRANCH}
        if params:
            request["params"] = {k: _param(v) for k, v in params.items()}
        for key, value in (("dry_run", dry_run), ("no_cache", no_cache), ("strict", strict)):
            if value:
                request[key] = True
        if preview:
            request["preview"] = int(preview)
        directory = os.fspath(project_dir)
        with tempfile.TemporaryDirectory(prefix="tarn-project-") as scratch:
            archive = os.path.join(scratch, "project.tar.gz")
            with open(archive, "wb") as sink:
                pack(directory, sink, DEFAULT_PROJECT_LIMIT)
            body, content_type, length = multipart(
                [("request", None, json.dumps(request).encode()), ("project", "project.tar.gz", archive)]
            )
            query = {"detach": True} if detach else None
            yield from self._http.lines("POST", "/v1/runs", query, body=body, content_type=content_type, content_length=length)

    def list_jobs(self) -> List[Dict[str, Any]]:
        """Jobs (runs, queries, imports), newest first: ``[{"id", "kind", "state", "user", "ref", "summary", ...}]``."""
        return self._http.call("GET", "/v1/jobs")

    def get_job(self, job_id: str) -> Dict[str, Any]:
        """One job; a run's carries its result (``"result"``) once it ended."""
        return self._http.call("GET", "/v1/jobs/" + path_segment(job_id))

    def job_events(self, job_id: str, follow: bool = False) -> Iterator[Dict[str, Any]]:
        """A job's events as dicts (see :meth:`run`); ``follow`` keeps reading until the job ends."""
        return self._http.lines("GET", "/v1/jobs/" + path_segment(job_id) + "/logs", {"follow": follow})

    def job_logs(self, job_id: str, follow: bool = False) -> Iterator[str]:
        """A job's log as text lines, as ``tarn job logs`` prints them; ``follow`` keeps reading until it ends."""
        for event in self.job_events(job_id, follow):
            text = format_event(event)
            if text is not None:
                yield from text.split("\n")

    def cancel_job(self, job_id: str) -> Dict[str, Any]:
        """Cancel a job (its owner or an admin): its workers stop and nothing is published. Returns the job."""
        return self._http.call("POST", "/v1/jobs/" + path_segment(job_id) + "/cancel")


# --- helpers -----------------------------------------------------------------


def _ident(name: str) -> Dict[str, str]:
    namespace, dot, table = name.partition(".")
    if not dot:
        namespace, table = DEFAULT_NAMESPACE, name
    return {"namespace": namespace, "name": table}


def quote_ident(name: str) -> str:
    """A SQL identifier in double quotes (quotes inside doubled)."""
    return '"' + name.replace('"', '""') + '"'


def scan_sql(table: str, columns: Optional[Sequence[str]] = None, filter: Optional[str] = None) -> str:
    """The SELECT :meth:`Client.scan` runs: quoted identifiers, the filter validated by tarn's parser."""
    if not table or not isinstance(table, str):
        raise InvalidError("scan needs a table name: NAME or NAMESPACE.NAME")
    if isinstance(columns, str):
        raise InvalidError(f"columns must be a list of names, not the string {columns!r}")
    parts = table.split(".")
    if len(parts) > 2 or not all(parts):
        raise InvalidError(f"invalid table name {table!r}: use NAME or NAMESPACE.NAME")
    select = "*" if columns is None else ", ".join(quote_ident(c) for c in columns)
    if columns is not None and not columns:
        raise InvalidError("columns is empty: give at least one column, or None for all")
    sql = f"SELECT {select} FROM {'.'.join(quote_ident(p) for p in parts)}"
    if filter:
        from ._filter import parse

        parse(filter)  # raises FilterError; what parses is a plain predicate
        sql += f" WHERE ({filter})"
    return sql


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
    module = type(data).__module__.split(".", 1)[0]
    if module == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False)
    if module == "polars":
        return data.to_arrow()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise InvalidError(
        f"cannot upload a {type(data).__name__}: give a file path (Parquet, CSV, JSON Lines), "
        "a pyarrow.Table, or a pandas or polars DataFrame"
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
