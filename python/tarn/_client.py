"""The tarn client: the lakehouse from Python, against a ``tarn serve`` server.

::

    import tarn

    lake = tarn.Client()                      # TARN_ENDPOINT / TARN_TOKEN, the profile, or a private server
    lake.create_branch("alice.dev")
    lake.import_data("trips", ["march.csv"], branch="alice.dev")
    table = lake.query("select count(*) from trips", ref="alice.dev")   # a pyarrow.Table
    lake.merge_branch("alice.dev", into="main")

With no endpoint anywhere, the client starts ``tarn serve --insecure-local``
on a free loopback port over the embedded lakehouse (``TARN_HOME``) and stops
it on :meth:`Client.close`; the ``tarn`` binary is taken from ``TARN_BIN`` or
``PATH``. Query results arrive as an Arrow IPC stream. Errors are
:class:`tarn.TarnError` subclasses named after the server's error codes.
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Union

from ._exceptions import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    TarnError,
    UnauthorizedError,
)

__all__ = ["Client", "RunState"]

_ERRORS = {
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "exists": ConflictError,
    "unauthorized": UnauthorizedError,
    "forbidden": ForbiddenError,
    "invalid": InvalidError,
}

#: Folders never uploaded with a project.
_ALWAYS_SKIPPED = {".git", ".venv", "venv", "__pycache__", "node_modules", ".tarn"}

#: Largest packed project (the CLI's limit).
PROJECT_LIMIT = 64 << 20


def _profile() -> Dict[str, str]:
    """Reads the profile file the CLI writes (``tarn config set``): ``key: value`` lines."""
    path = os.environ.get("TARN_CONFIG")
    if not path:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        path = os.path.join(base, "tarn", "config.yml")
    out: Dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and not line.startswith("#"):
                    out[key.strip()] = value.strip().strip("\"'")
    except OSError:
        pass
    return out


class RunState(dict):
    """The outcome of :meth:`Client.run`: the run result (``run_id``,
    ``published``, ``steps``, ...) as a dict, with the job's ``job_id``,
    ``state`` and the events that were logged (``events``)."""

    @property
    def steps(self) -> Dict[str, Dict[str, Any]]:
        """Per-step results by step name."""
        return {s["name"]: s for s in self.get("steps") or []}

    @property
    def ok(self) -> bool:
        return self.get("state") == "succeeded"


class Client:
    """A tarn lakehouse reached over HTTP.

    ``endpoint`` and ``token`` default to ``TARN_ENDPOINT`` / ``TARN_TOKEN``,
    then to the profile file (``tarn config set endpoint|token``). With no
    endpoint at all, a private ``tarn serve --insecure-local`` is started over
    the embedded lakehouse (``home`` or ``TARN_HOME``).
    """

    def __init__(self, endpoint: Optional[str] = None, token: Optional[str] = None, *,
                 home: Optional[str] = None, timeout: float = 300.0) -> None:
        profile = _profile()
        self.endpoint = (endpoint or os.environ.get("TARN_ENDPOINT") or profile.get("endpoint") or "").rstrip("/")
        self.token = token or os.environ.get("TARN_TOKEN") or profile.get("token") or None
        self.timeout = timeout
        self._server: Optional[subprocess.Popen] = None
        if not self.endpoint:
            self.endpoint = self._start_server(home)

    # -- lifecycle -----------------------------------------------------------

    def _start_server(self, home: Optional[str]) -> str:
        binary = os.environ.get("TARN_BIN") or shutil.which("tarn")
        if not binary:
            raise TarnError("no endpoint given and no tarn binary found: set TARN_ENDPOINT, or put tarn on PATH (or TARN_BIN)")
        env = dict(os.environ)
        if home:
            env["TARN_HOME"] = home
        self._server = subprocess.Popen([binary, "serve", "--insecure-local", "--addr", "127.0.0.1:0"],
                                        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True)
        assert self._server.stderr is not None
        seen = []
        for line in self._server.stderr:
            seen.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                # Keep draining the server's log so it never blocks on a full pipe.
                import threading

                threading.Thread(target=self._server.stderr.read, daemon=True).start()
                return match.group(1)
        raise TarnError("tarn serve did not start:\n" + "".join(seen))

    def close(self) -> None:
        """Stops the private server, if this client started one."""
        if self._server is not None:
            self._server.terminate()
            try:
                self._server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._server.kill()
            self._server = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- transport -----------------------------------------------------------

    def _open(self, method: str, path: str, query: Optional[Dict[str, Any]] = None, body: Optional[bytes] = None,
              content_type: Optional[str] = None):
        url = self.endpoint + path
        if query:
            params = {k: ("true" if v is True else v) for k, v in query.items() if v not in (None, "", False)}
            if params:
                url += "?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url, data=body, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            raise _error(e) from None
        except urllib.error.URLError as e:
            raise TarnError(f"cannot reach the tarn server at {self.endpoint}: {e.reason}") from None

    def _json(self, method: str, path: str, query: Optional[Dict[str, Any]] = None, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        with self._open(method, path, query, data, "application/json" if data is not None else None) as resp:
            return json.load(resp)

    # -- refs ----------------------------------------------------------------

    def list_branches(self) -> List[Dict[str, Any]]:
        return self._json("GET", "/v1/refs", {"kind": "branch"})

    def list_tags(self) -> List[Dict[str, Any]]:
        return self._json("GET", "/v1/refs", {"kind": "tag"})

    def create_branch(self, name: str, from_ref: str = "main") -> Dict[str, Any]:
        return self._json("POST", "/v1/refs", body={"kind": "branch", "name": name, "from": from_ref})

    def create_tag(self, name: str, ref: str = "main") -> Dict[str, Any]:
        return self._json("POST", "/v1/refs", body={"kind": "tag", "name": name, "from": ref})

    def delete_branch(self, name: str) -> None:
        self._json("DELETE", "/v1/refs/" + _q(name), {"kind": "branch"})

    def delete_tag(self, name: str) -> None:
        self._json("DELETE", "/v1/refs/" + _q(name), {"kind": "tag"})

    def merge_branch(self, source: str, into: str = "main", message: str = "", no_ff: bool = False) -> Dict[str, Any]:
        return self._json("POST", "/v1/merge", body={"source": source, "into": into, "no_ff": no_ff,
                                                     "info": {"message": message}})

    def get_commits(self, ref: str = "main", limit: int = 20) -> List[Dict[str, Any]]:
        return self._json("GET", "/v1/log", {"ref": ref, "limit": str(limit)})

    def resolve(self, ref: str) -> Dict[str, Any]:
        return self._json("GET", "/v1/resolve", {"ref": ref})

    def diff(self, from_ref: str, to_ref: str) -> List[Dict[str, Any]]:
        return self._json("GET", "/v1/diff", {"from": from_ref, "to": to_ref})

    # -- namespaces and tables -------------------------------------------------

    def list_namespaces(self, ref: str = "main") -> List[Dict[str, Any]]:
        return self._json("GET", "/v1/namespaces", {"ref": ref})

    def create_namespace(self, name: str, branch: str = "main") -> Dict[str, Any]:
        return self._json("POST", "/v1/namespaces", body={"branch": branch, "namespace": name})

    def list_tables(self, ref: str = "main", namespace: Optional[str] = None) -> List[Dict[str, Any]]:
        return self._json("GET", "/v1/tables", {"ref": ref, "namespace": namespace})["tables"]

    def get_table(self, table: str, ref: str = "main") -> Dict[str, Any]:
        return self._json("GET", "/v1/tables/" + _q(table), {"ref": ref})

    def create_table(self, table: str, files: Union[str, Sequence[str]], branch: str = "main", *,
                     partition_by: str = "", replace: bool = False, message: str = "") -> Dict[str, Any]:
        """Creates a table from Parquet, CSV or JSON Lines files (uploaded), schema inferred."""
        ns, name = _ident(table)
        request = {"table": {"namespace": ns, "name": name}, "branch": branch, "partition_by": partition_by,
                   "replace": replace, "info": {"message": message}}
        return self._upload("/v1/tables", request, files)

    def import_data(self, table: str, files: Union[str, Sequence[str]], branch: str = "main", message: str = "") -> Dict[str, Any]:
        """Appends files to a table in one commit."""
        ns, name = _ident(table)
        request = {"table": {"namespace": ns, "name": name}, "branch": branch, "info": {"message": message}}
        return self._upload("/v1/tables/" + _q(f"{ns}.{name}") + "/import", request, files)

    def drop_table(self, table: str, branch: str = "main") -> Dict[str, Any]:
        return self._json("DELETE", "/v1/tables/" + _q(table), {"branch": branch})

    def _upload(self, path: str, request: Dict[str, Any], files: Union[str, Sequence[str]]) -> Dict[str, Any]:
        paths = [files] if isinstance(files, (str, os.PathLike)) else list(files)
        parts = [("request", None, json.dumps(request).encode(), "application/json")]
        for p in paths:
            parts.append(("file", os.path.basename(str(p)), Path(p).read_bytes(), "application/octet-stream"))
        body, content_type = _multipart(parts)
        with self._open("POST", path, None, body, content_type) as resp:
            return json.load(resp)

    # -- queries ---------------------------------------------------------------

    def query(self, sql: str, ref: str = "main", namespace: Optional[str] = None):
        """Runs one SELECT at a ref and returns a ``pyarrow.Table`` (streamed as Arrow IPC)."""
        import pyarrow.ipc as ipc

        body = {"sql": sql, "ref": ref}
        if namespace:
            body["namespace"] = namespace
        with self._open("POST", "/v1/query", None, json.dumps(body).encode(), "application/json") as resp:
            job = resp.headers.get("X-Tarn-Job")
            try:
                return ipc.open_stream(resp).read_all()
            except Exception as e:  # the server broke the stream off: its job has the error
                if job:
                    failed = self.wait_job(job)
                    if failed.get("error"):
                        raise _error_body({"error": failed["error"]}) from None
                raise TarnError(f"the result stream from the server broke off: {e}") from None

    def query_to_pandas(self, sql: str, ref: str = "main", namespace: Optional[str] = None):
        return self.query(sql, ref=ref, namespace=namespace).to_pandas()

    def scan(self, table: str, columns: Optional[Sequence[str]] = None, filter: Optional[str] = None, ref: str = "main"):
        """Reads a table (some columns, rows matching a SQL predicate) as a ``pyarrow.Table``."""
        ns, name = _ident(table)
        cols = ", ".join(_quote_ident(c) for c in columns) if columns else "*"
        sql = f"select {cols} from {_quote_ident(ns)}.{_quote_ident(name)}"
        if filter:
            sql += f" where {filter}"
        return self.query(sql, ref=ref)

    # -- runs and jobs ---------------------------------------------------------

    def run(self, project_dir: Union[str, Path], ref: str = "main", params: Optional[Dict[str, Any]] = None,
            dry_run: bool = False, detach: bool = False, on_event=None) -> RunState:
        """Uploads a project and runs it on the server. Blocks until the run ends
        (``on_event`` gets each progress event) and returns a :class:`RunState`;
        with ``detach=True`` returns at once with the job's id and state.
        A failed run raises the matching :class:`TarnError` subclass."""
        request = {"ref": ref, "params": {k: str(v) for k, v in (params or {}).items()}, "dry_run": dry_run}
        project = _pack(Path(project_dir))
        body, content_type = _multipart([("request", None, json.dumps(request).encode(), "application/json"),
                                         ("project", "project.tar.gz", project, "application/gzip")])
        with self._open("POST", "/v1/runs", {"detach": detach}, body, content_type) as resp:
            if detach:
                job = json.load(resp)
                return RunState(job_id=job["id"], state=job["state"], events=[])
            events: List[Dict[str, Any]] = []
            job: Dict[str, Any] = {}
            for line in resp:
                msg = json.loads(line)
                if "event" in msg:
                    events.append(msg["event"])
                    if on_event:
                        on_event(msg["event"])
                elif "job" in msg:
                    job = msg["job"]
        state = RunState(job.get("result") or {})
        state.update(job_id=job.get("id"), state=job.get("state"), events=events)
        if job.get("state") != "succeeded":
            err = job.get("error") or {"code": "internal", "message": f"run ended {job.get('state')}"}
            exc = _error_body({"error": err})
            exc.run = state  # type: ignore[attr-defined]
            raise exc
        return state

    def list_jobs(self) -> List[Dict[str, Any]]:
        return self._json("GET", "/v1/jobs")

    def get_job(self, job_id: str) -> Dict[str, Any]:
        return self._json("GET", "/v1/jobs/" + _q(job_id))

    def job_logs(self, job_id: str, follow: bool = False) -> Iterator[Dict[str, Any]]:
        """The job's events; with ``follow`` until the job ends."""
        with self._open("GET", "/v1/jobs/" + _q(job_id) + "/logs", {"follow": follow}) as resp:
            for line in resp:
                if line.strip():
                    yield json.loads(line)

    def wait_job(self, job_id: str, poll: float = 0.2) -> Dict[str, Any]:
        while True:
            job = self.get_job(job_id)
            if job["state"] in ("succeeded", "failed", "cancelled"):
                return job
            time.sleep(poll)

    def cancel_job(self, job_id: str) -> Dict[str, Any]:
        return self._json("POST", "/v1/jobs/" + _q(job_id) + "/cancel")


def _q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


def _ident(table: str):
    ns, sep, name = table.partition(".")
    return (ns, name) if sep else ("tarn", table)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _error(e: "urllib.error.HTTPError") -> TarnError:
    try:
        return _error_body(json.loads(e.read()))
    except ValueError:
        return TarnError(f"the server answered {e.code} {e.reason}")


def _error_body(body: Dict[str, Any]) -> TarnError:
    err = body.get("error") or {}
    return _ERRORS.get(err.get("code"), TarnError)(err.get("message") or "unknown error")


def _multipart(parts: Iterable[tuple]) -> tuple:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for field, filename, data, ctype in parts:
        out.write(f"--{boundary}\r\n".encode())
        disposition = f'form-data; name="{field}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out.write(f"Content-Disposition: {disposition}\r\nContent-Type: {ctype}\r\n\r\n".encode())
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _ignore_rules(root: Path) -> List[tuple]:
    """The root .gitignore's patterns, the subset the CLI supports (no ``!``)."""
    rules = []
    try:
        lines = (root / ".gitignore").read_text().splitlines()
    except OSError:
        return rules
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        rules.append((line.lstrip("/"), anchored, dir_only))
    return rules


def _ignored(rules: List[tuple], rel: str, is_dir: bool) -> bool:
    for pattern, anchored, dir_only in rules:
        if dir_only and not is_dir:
            continue
        if anchored:
            regex = "^" + re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]") + "$"
            if re.match(regex, rel):
                return True
        elif fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], pattern):
            return True
    return False


def _pack(root: Path) -> bytes:
    """The project as tar.gz, without what .gitignore excludes."""
    if not root.is_dir():
        raise InvalidError(f"project folder {root} not found")
    rules = _ignore_rules(root)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            dirnames[:] = sorted(d for d in dirnames if d not in _ALWAYS_SKIPPED and not _ignored(rules, rel_dir + d, True))
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if _ignored(rules, rel_dir + name, False) or not os.path.isfile(path) or os.path.islink(path):
                    continue
                tar.add(path, arcname=rel_dir + name, recursive=False)
                if out.tell() > PROJECT_LIMIT:
                    raise InvalidError(f"project {root} is larger than {PROJECT_LIMIT >> 20} MiB packed: list data files in its .gitignore")
    return out.getvalue()
