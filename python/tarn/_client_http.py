"""The client's transport: where the server is, HTTP calls, error mapping,
multipart uploads, and the private ``tarn serve`` of embedded mode.

Only the standard library; the Client in ``_client`` builds on it.
"""

from __future__ import annotations

import atexit
import base64
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
from collections import deque
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union
from urllib.parse import quote, urlencode, urlsplit

from ._exceptions import (
    AlreadyExistsError,
    BranchExistsError,
    BranchNotFoundError,
    CancelledError,
    CommitNotFoundError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    JobNotFoundError,
    MergeConflictError,
    NamespaceExistsError,
    NamespaceNotEmptyError,
    NamespaceNotFoundError,
    NotFoundError,
    RefNotFoundError,
    TableExistsError,
    TableNotFoundError,
    TagExistsError,
    TagNotFoundError,
    TarnError,
    UnauthorizedError,
    UserExistsError,
)

DEFAULT_BRANCH = "main"  # what reads default to, and writes (tarn.DefaultBranch)
DEFAULT_NAMESPACE = "tarn"  # the namespace of a table named without one (tarn.DefaultNamespace)

_ERRORS = {
    "invalid": InvalidError,
    "unauthorized": UnauthorizedError,
    "forbidden": ForbiddenError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "exists": AlreadyExistsError,
    "cancelled": CancelledError,
}

# What the error is about (the error body's "resource", api/openapi.yaml), by code.
_ABOUT = {
    ("not_found", "branch"): BranchNotFoundError,
    ("not_found", "tag"): TagNotFoundError,
    ("not_found", "ref"): RefNotFoundError,
    ("not_found", "commit"): CommitNotFoundError,
    ("not_found", "namespace"): NamespaceNotFoundError,
    ("not_found", "table"): TableNotFoundError,
    ("not_found", "job"): JobNotFoundError,
    ("exists", "branch"): BranchExistsError,
    ("exists", "tag"): TagExistsError,
    ("exists", "namespace"): NamespaceExistsError,
    ("exists", "table"): TableExistsError,
    ("exists", "user"): UserExistsError,
}

# More precisely than the code (the error body's "reason").
_REASONS = {
    ("conflict", "merge_conflict"): MergeConflictError,
    ("invalid", "not_empty"): NamespaceNotEmptyError,
}


def make_error(
    code: str, message: str, status: Optional[int] = None, resource: Optional[str] = None, reason: Optional[str] = None
) -> TarnError:
    """The TarnError subclass for a server error: by its reason, else what it is about, else its code;
    with ``code``, ``status``, ``resource`` and ``reason`` set."""
    cls = _REASONS.get((code, reason or "")) or _ABOUT.get((code, resource or "")) or _ERRORS.get(code, TarnError)
    err = cls(message)
    err.code = code  # type: ignore[attr-defined]
    err.status = status  # type: ignore[attr-defined]
    err.resource = resource or None  # type: ignore[attr-defined]
    err.reason = reason or None  # type: ignore[attr-defined]
    return err


# --- where the server is ---------------------------------------------------


def config_path() -> Optional[str]:
    """The profile file `tarn config set` writes: $TARN_CONFIG, else the OS config folder's tarn/config.yml."""
    explicit = os.environ.get("TARN_CONFIG")
    if explicit:
        return explicit
    # Go's os.UserConfigDir, which the CLI uses.
    if sys.platform == "win32":
        base = os.environ.get("APPDATA")
    elif sys.platform == "darwin":
        home = os.environ.get("HOME")
        base = os.path.join(home, "Library", "Application Support") if home else None
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or None
        if base is None or not os.path.isabs(base):
            home = os.environ.get("HOME")
            base = os.path.join(home, ".config") if home else None
    return os.path.join(base, "tarn", "config.yml") if base else None


def _yaml_scalar(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        try:
            return str(json.loads(raw))
        except ValueError:
            return raw[1:-1]
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        return raw[1:-1].replace("''", "'")
    if " #" in raw:
        raw = raw.split(" #", 1)[0].rstrip()
    return raw


def read_profile(path: Optional[str]) -> Dict[str, str]:
    """The ``key: value`` settings of the CLI's profile file (empty when it does not exist)."""
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise InvalidError(f"read config {path}: {e}") from None
    settings: Dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        key, sep, value = stripped.partition(":")
        if not sep:
            raise InvalidError(f"config {path} line {number} is not a `key: value` line: {stripped!r}")
        settings[_yaml_scalar(key)] = _yaml_scalar(value)
    return settings


def resolve_remote(endpoint: Optional[str], token: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """Endpoint and token as the CLI finds them: arguments, then TARN_ENDPOINT / TARN_TOKEN, then the profile."""
    endpoint = endpoint or os.environ.get("TARN_ENDPOINT") or None
    token = token or os.environ.get("TARN_TOKEN") or None
    if endpoint is None or token is None:
        profile = read_profile(config_path())
        endpoint = endpoint or profile.get("endpoint") or None
        token = token or profile.get("token") or None
    return endpoint, token


# --- HTTP ------------------------------------------------------------------


class _TrailerResponse(http.client.HTTPResponse):
    """An HTTPResponse that keeps the trailer fields of a chunked body
    (http.client reads and drops them); the server sends a query's late error there."""

    trailers: Dict[str, str]

    def _read_and_discard_trailer(self) -> None:  # overrides http.client's
        self.trailers = {}
        while True:
            line = self.fp.readline(65537)
            if not line or line in (b"\r\n", b"\n"):
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                self.trailers[name.strip().lower()] = value.strip()


class _Connection(http.client.HTTPConnection):
    response_class = _TrailerResponse


class _TLSConnection(http.client.HTTPSConnection):
    response_class = _TrailerResponse


def decode_header(value: Optional[str]) -> Any:
    """A base64(JSON) header or trailer value, or None."""
    if not value:
        return None
    try:
        return json.loads(base64.b64decode(value))
    except ValueError:
        return None


class Transport:
    """HTTP calls to one tarn server: JSON in and out, streamed bodies, error mapping."""

    def __init__(self, endpoint: str, token: Optional[str], timeout: Optional[float] = None) -> None:
        parts = urlsplit(endpoint.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidError(f"invalid endpoint {endpoint!r}: use http://HOST:PORT or https://HOST:PORT")
        self.endpoint = endpoint.rstrip("/")
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._token = token
        self._timeout = timeout

    def _connect(self) -> http.client.HTTPConnection:
        cls = _TLSConnection if self._tls else _Connection
        return cls(self._host, self._port, timeout=self._timeout)

    def open(
        self,
        method: str,
        path: str,
        query: Optional[Dict[str, Any]] = None,
        body: Union[None, bytes, Iterable[bytes]] = None,
        content_type: Optional[str] = None,
        content_length: Optional[int] = None,
    ) -> _TrailerResponse:
        """Send a request and return the open response; a 4xx/5xx answer raises its TarnError."""
        url = self._prefix + path
        params = {k: _query_value(v) for k, v in (query or {}).items() if v is not None and v != "" and v is not False}
        if params:
            url += "?" + urlencode(params)
        headers = {"Accept-Encoding": "identity", "User-Agent": "tarn-python"}
        if self._token:
            headers["Authorization"] = "Bearer " + self._token
        if content_type:
            headers["Content-Type"] = content_type
        if isinstance(body, bytes):
            headers["Content-Length"] = str(len(body))
        elif body is not None and content_length is not None:
            headers["Content-Length"] = str(content_length)
        conn = self._connect()
        try:
            try:
                conn.request(method, url, body=body, headers=headers, encode_chunked=body is not None and "Content-Length" not in headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server refused the body early (e.g. too large): its answer says why
            resp = conn.getresponse()
        except TarnError:
            conn.close()
            raise
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise TarnError(
                f"cannot reach the tarn server at {self.endpoint}: {e} "
                "(is `tarn serve` running? check the endpoint, TARN_ENDPOINT or `tarn config get endpoint`)"
            ) from None
        if resp.status >= 400:
            try:
                raise self._error(resp)
            finally:
                resp.close()
                conn.close()
        return resp

    def _error(self, resp: http.client.HTTPResponse) -> TarnError:
        raw = resp.read(1 << 20)
        try:
            body = json.loads(raw)["error"]
            code, message = body["code"], body["message"]
        except (ValueError, KeyError, TypeError):
            text = raw.decode("utf-8", "replace").strip()
            return make_error("internal", f"the server answered {resp.status} {resp.reason}: {text}", resp.status)
        return make_error(code, message, resp.status, body.get("resource"), body.get("reason"))

    def call(self, method: str, path: str, query: Optional[Dict[str, Any]] = None, body: Any = None) -> Any:
        """A JSON request (``body`` is encoded unless None) and its decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        resp = self.open(method, path, query, data, "application/json" if data is not None else None)
        try:
            raw = resp.read()
        finally:
            resp.close()
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError:
            raise TarnError(f"the server's answer to {method} {path} is not JSON: {raw[:200]!r}") from None

    def lines(self, method: str, path: str, query: Optional[Dict[str, Any]] = None, **kwargs: Any) -> Iterator[Any]:
        """The decoded lines of an NDJSON answer, as they arrive."""
        resp = self.open(method, path, query, **kwargs)
        try:
            for line in resp:
                line = line.strip()
                if not line:
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    raise TarnError(f"malformed line from the server on {path}: {line[:200]!r}") from None
        finally:
            resp.close()


def _query_value(v: Any) -> str:
    if v is True:
        return "true"
    return str(v)


def path_segment(name: str) -> str:
    """One URL path segment (a table, ref or job id), escaped."""
    return quote(name, safe="")


# --- multipart -------------------------------------------------------------

Part = Tuple[str, Optional[str], Union[bytes, str]]  # (form name, file name or None, bytes or a file path)
_CHUNK = 1 << 20


def multipart(parts: List[Part]) -> Tuple[Iterator[bytes], str, int]:
    """A multipart/form-data body streamed from memory and files: (chunks, content type, length)."""
    boundary = "tarn-" + uuid.uuid4().hex
    heads: List[bytes] = []
    length = 0
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        ctype = "application/json"
        if filename is not None:
            disposition += f'; filename="{filename}"'
            ctype = "application/octet-stream"
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {ctype}\r\n\r\n".encode()
        heads.append(head)
        size = len(content) if isinstance(content, bytes) else os.path.getsize(content)
        length += len(head) + size + 2
    tail = f"--{boundary}--\r\n".encode()
    length += len(tail)

    def chunks() -> Iterator[bytes]:
        for head, (_, _, content) in zip(heads, parts):
            yield head
            if isinstance(content, bytes):
                yield content
            else:
                with open(content, "rb") as f:
                    while True:
                        block = f.read(_CHUNK)
                        if not block:
                            break
                        yield block
            yield b"\r\n"
        yield tail

    return chunks(), f"multipart/form-data; boundary={boundary}", length


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


def upload_name(path: str) -> str:
    """A file name the server accepts (letters, digits, '.', '_', '-', ' '), keeping the extension."""
    name = _UNSAFE_NAME.sub("_", os.path.basename(path)).replace("..", "_")
    if not name or not name[0].isalnum():
        name = "f" + name
    return name[:200]


# --- embedded mode: a private `tarn serve` ------------------------------------

def wait_ready_file(path: str, timeout: float, process: "subprocess.Popen[str]") -> Optional[str]:
    """The URL in the file ``tarn serve --ready-file PATH`` writes once it listens; None if
    the process exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)["url"]
        except (OSError, ValueError, KeyError):
            pass
        if process.poll() is not None:
            return None
        time.sleep(0.02)
    return None

_servers: "weakref.WeakSet[EmbeddedServer]" = weakref.WeakSet()


def find_binary() -> str:
    """The tarn binary: $TARN_BIN, else `tarn` on PATH."""
    explicit = os.environ.get("TARN_BIN")
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise TarnError(f"TARN_BIN={explicit} is not an executable file: point it at the tarn binary")
        return explicit
    found = shutil.which("tarn")
    if found:
        return found
    raise TarnError(
        "no tarn server configured and no tarn binary to start one: give Client(endpoint=...) or set "
        "TARN_ENDPOINT / `tarn config set endpoint URL`, or install the tarn binary on PATH (or set TARN_BIN) "
        "for embedded mode"
    )


def default_home() -> str:
    """$TARN_HOME, else ~/.tarn (as the CLI)."""
    return os.path.abspath(os.environ.get("TARN_HOME") or os.path.join(os.path.expanduser("~"), ".tarn"))


# A private server is the embedded lakehouse of one person: none of the limits a shared server
# sets (queries run as `tarn query` runs them).
_UNLIMITED = (
    "--max-queries=0",
    "--query-threads=0",
    "--query-memory=0",
    "--query-disk=0",
    "--max-result=0",
    "--max-export=0",
)


class EmbeddedServer:
    """A ``tarn serve --insecure-local`` on a free loopback port over one home, owned by this process."""

    def __init__(self, home: str, binary: Optional[str] = None, start_timeout: float = 60.0) -> None:
        self.home = os.path.abspath(home)
        self.binary = binary or find_binary()
        os.makedirs(self.home, exist_ok=True)
        self._log: "deque[str]" = deque(maxlen=50)
        self.endpoint: Optional[str] = None
        self._ready_dir = tempfile.mkdtemp(prefix="tarn-serve-")
        self._ready_file = os.path.join(self._ready_dir, "ready.json")
        self.process = subprocess.Popen(
            [self.binary, "serve", "--insecure-local", "--addr", "127.0.0.1:0", "--home", self.home, "--grace", "10s",
             "--ready-file", self._ready_file, *_UNLIMITED],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,  # a Ctrl-C in the caller's terminal reaches us, and we stop it in order
        )
        _servers.add(self)
        threading.Thread(target=self._drain, name="tarn-serve-log", daemon=True).start()
        try:
            self._wait_ready(start_timeout)
        except BaseException:
            self.stop()
            raise

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:  # one line per request: read them all so the pipe never fills
            self._log.append(line.rstrip("\n"))

    def log_tail(self) -> str:
        """The last lines the server wrote (for error messages)."""
        return "\n".join(self._log)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.endpoint = wait_ready_file(self._ready_file, timeout, self.process)
        if self.endpoint is None:
            self.process.poll()
            raise TarnError(
                f"the embedded tarn server ({self.binary} serve --home {self.home}) did not start: "
                f"{self.log_tail() or 'no output'}"
            )
        transport = Transport(self.endpoint, None, timeout=5)
        while True:
            if self.process.poll() is not None:
                raise TarnError(f"the embedded tarn server exited with status {self.process.returncode}: {self.log_tail()}")
            try:
                resp = transport.open("GET", "/readyz")
                resp.read()
                resp.close()
                return
            except TarnError:
                if time.monotonic() > deadline:
                    raise TarnError(
                        f"the embedded tarn server at {self.endpoint} was not ready after {timeout:.0f}s: {self.log_tail()}"
                    ) from None
                time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server (SIGTERM: running jobs get 10 s to finish, then are cancelled), killing it after ``timeout``."""
        if self.process.poll() is None:
            try:
                self.process.terminate()
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            except OSError:
                pass
        shutil.rmtree(self._ready_dir, ignore_errors=True)
        _servers.discard(self)


@atexit.register
def _stop_all() -> None:
    for server in list(_servers):
        server.stop()
