"""``tarn.Client``: the lakehouse from Python, through the HTTP API of ``tarn serve``.

The client speaks the same API as the Go client the CLI uses (``client/``),
so a script sees the same branches, tables and runs as ``tarn`` commands.
Only the standard library and pyarrow; pandas and polars when asked for.
"""

from __future__ import annotations

import http.client
import json
import os
import tempfile
import time
import weakref
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

from ._client_http import DEFAULT_BRANCH, DEFAULT_NAMESPACE, EmbeddedServer, Transport, decode_header, default_home
from ._client_http import make_error, multipart, path_segment, resolve_remote
from ._client_pack import DEFAULT_PROJECT_LIMIT, pack
from ._client_refs import RefMethods
from ._client_tables import TableMethods
from ._client_types import ExportResult, Job, RunResult, User, format_event, print_event
from ._exceptions import InvalidError, TarnError

__all__ = ["Client", "DEFAULT_BRANCH", "DEFAULT_NAMESPACE", "quote_ident", "scan_sql"]

_QUERY_INFO = b"tarn.query"  # the schema metadata key of a result's description (server.MetaQuery)
_EXPORT_FORMATS = ("csv", "json", "jsonl", "parquet", "arrow")

PathLike = Union[str, "os.PathLike[str]"]
EventHandler = Callable[[Dict[str, Any]], None]


class Client(RefMethods, TableMethods):
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
    ``BRANCH@HASH`` (a commit of that branch's history, by 4+ hex chars),
    ``REF~N`` or ``REF@{2026-05-19T06:11:33Z}``; reads default to ``main``.
    Writes go to a branch (``branch=``, default ``main``). Tables are ``NAME``
    (namespace ``tarn``) or ``NAMESPACE.NAME``.

    Results are typed records (:class:`tarn.Branch`, :class:`tarn.Tag`,
    :class:`tarn.Commit`, :class:`tarn.Namespace`, :class:`tarn.Table`,
    :class:`tarn.Job`, ...) with attributes, which also read as the server's
    JSON: ``branch["commit"]``, ``branch.get("commit")``, ``branch.to_dict()``.

    Errors derive from :class:`tarn.TarnError`: :class:`tarn.NotFoundError`,
    :class:`tarn.ConflictError` (conflicts and things that already exist),
    :class:`tarn.UnauthorizedError`, :class:`tarn.ForbiddenError`,
    :class:`tarn.InvalidError`, each with subclasses for what the error is
    about (:class:`tarn.BranchNotFoundError`, :class:`tarn.TableExistsError`,
    :class:`tarn.MergeConflictError`, ...); each has ``.code`` (the server's
    error code), ``.resource`` and ``.reason`` (what it is about, when the
    server says) and ``.status`` (the HTTP status). A server that cannot be
    reached is a plain ``TarnError`` naming the endpoint.
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

    def whoami(self) -> User:
        """The calling :class:`tarn.User` (``name``, ``admin``; ``local``, an admin, without tokens)."""
        return User.from_json(self._http.call("GET", "/v1/whoami"))

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

    def query_to_file(
        self, sql: str, path: PathLike, format: str, ref: Optional[str] = None, namespace: Optional[str] = None
    ) -> ExportResult:
        """Run ``sql`` at ``ref`` (default ``main``) and write the result to ``path`` in ``format``
        (``csv``, ``json``, ``jsonl``, ``parquet`` or ``arrow``), as ``tarn query --out`` does.

        The server writes the file with the query engine and sends it; it lands in a temporary
        file beside ``path``, renamed over ``path`` only once complete, so ``path`` is the whole
        result or left as it was. Returns a :class:`tarn.ExportResult` (``path``, ``rows``, ...).
        """
        if format not in _EXPORT_FORMATS:
            raise InvalidError(f"unknown format {format!r}: use one of {', '.join(_EXPORT_FORMATS)}")
        target = os.path.abspath(os.fspath(path))
        folder = os.path.dirname(target)
        if not os.path.isdir(folder):
            raise InvalidError(f"cannot write {os.fspath(path)}: there is no folder {folder}")
        body: Dict[str, Any] = {"sql": sql, "ref": ref or DEFAULT_BRANCH, "format": format}
        if namespace:
            body["namespace"] = namespace
        resp = self._http.open("POST", "/v1/query/export", body=json.dumps(body).encode(), content_type="application/json")
        try:
            info = decode_header(resp.getheader("X-Tarn-Copy"))
            if not isinstance(info, dict):
                raise TarnError("the server sent a result file without its description (X-Tarn-Copy)")
            fd, scratch = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tarn-tmp", dir=folder)
            try:
                with os.fdopen(fd, "wb") as out:
                    while True:
                        chunk = resp.read(1 << 20)
                        if not chunk:
                            break
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(scratch, target)
            except BaseException as e:
                os.unlink(scratch)
                if isinstance(e, (OSError, http.client.HTTPException)) and not isinstance(e, TarnError):
                    raise TarnError(f"download the result to {os.fspath(path)}: {e}") from None
                raise
        finally:
            resp.close()
        return ExportResult.from_json({**info, "path": target})

    def query_to_parquet_file(self, sql: str, path: PathLike, ref: Optional[str] = None, namespace: Optional[str] = None) -> ExportResult:
        """:meth:`query_to_file` in Parquet."""
        return self.query_to_file(sql, path, "parquet", ref, namespace)

    def query_to_csv_file(self, sql: str, path: PathLike, ref: Optional[str] = None, namespace: Optional[str] = None) -> ExportResult:
        """:meth:`query_to_file` in CSV (a header line, then one line a row)."""
        return self.query_to_file(sql, path, "csv", ref, namespace)

    def query_to_json_file(
        self, sql: str, path: PathLike, ref: Optional[str] = None, namespace: Optional[str] = None, lines: bool = False
    ) -> ExportResult:
        """:meth:`query_to_file` in JSON: an array of row objects, or with ``lines`` JSON Lines (one object a line)."""
        return self.query_to_file(sql, path, "jsonl" if lines else "json", ref, namespace)

    def _query(self, sql: str, ref: Optional[str], namespace: Optional[str]) -> Any:
        body: Dict[str, Any] = {"sql": sql, "ref": ref or DEFAULT_BRANCH}
        if namespace:
            body["namespace"] = namespace
        self.last_query_info = None
        return self._http.open("POST", "/v1/query", body=json.dumps(body).encode(), content_type="application/json")

    def _open_stream(self, resp: Any) -> Any:
        """The Arrow stream reader of a query response and its schema metadata without the query's
        description, which the server puts there (``tarn.query``) and which becomes ``last_query_info``."""
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
    ) -> Job:
        """Start a run as a job and return the :class:`tarn.Job` at once, like ``tarn run --detach``.

        Follow it with :meth:`job_logs` (``follow=True``) and :meth:`get_job`.
        """
        return Job.from_json(list(self._submit(project_dir, ref, params, dry_run, no_cache, strict, 0, detach=True))[0])

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

    def list_jobs(self) -> List[Job]:
        """Jobs (runs, queries, imports), newest first, as :class:`tarn.Job` (``id``, ``kind``, ``state``, ``user``, ...)."""
        return [Job.from_json(j) for j in self._http.call("GET", "/v1/jobs")]

    def get_job(self, job_id: str) -> Job:
        """One :class:`tarn.Job`; a run's carries its result (``result``) once it ended.
        :class:`tarn.JobNotFoundError` for an unknown job or one the caller may not see."""
        return Job.from_json(self._http.call("GET", "/v1/jobs/" + path_segment(job_id)))

    def job_events(self, job_id: str, follow: bool = False) -> Iterator[Dict[str, Any]]:
        """A job's events as dicts (see :meth:`run`); ``follow`` keeps reading until the job ends."""
        return self._http.lines("GET", "/v1/jobs/" + path_segment(job_id) + "/logs", {"follow": follow})

    def job_logs(self, job_id: str, follow: bool = False) -> Iterator[str]:
        """A job's log as text lines, as ``tarn job logs`` prints them; ``follow`` keeps reading until it ends."""
        for event in self.job_events(job_id, follow):
            text = format_event(event)
            if text is not None:
                yield from text.split("\n")

    def cancel_job(self, job_id: str) -> Job:
        """Cancel a job (its owner or an admin): its workers stop and nothing is published. Returns the job."""
        return Job.from_json(self._http.call("POST", "/v1/jobs/" + path_segment(job_id) + "/cancel"))


# --- helpers -----------------------------------------------------------------


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
