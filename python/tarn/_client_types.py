"""What ``tarn.Client`` returns: typed records of the server's JSON (branches, tags,
commits, namespaces, tables, jobs, ...), run results, and the default printer of
run events."""

from __future__ import annotations

import copy
import re
import sys
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Dict, Iterator, List, Optional, TextIO

from ._exceptions import TarnError

_NS = 1e-9

# --- records -------------------------------------------------------------------

_TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|z|[+-]\d\d:\d\d)$")


def parse_time(value: Any) -> Optional[datetime]:
    """A time as the server writes it (RFC 3339, nanoseconds allowed) as an aware datetime; None for none."""
    if value is None or value == "" or isinstance(value, datetime):
        return value or None
    m = _TIME_RE.match(str(value))
    if not m:
        raise TarnError(f"the server sent a time that is not RFC 3339: {value!r}")
    base, fraction, zone = m.groups()
    t = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    tz = timezone.utc
    if zone not in ("Z", "z"):
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        tz = timezone(-offset if zone[0] == "-" else offset)
    return t.replace(microsecond=micro, tzinfo=tz)


def format_time(t: datetime) -> str:
    """An aware datetime in RFC 3339 (``Z`` for UTC); a naive one is taken as UTC."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    text = t.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class _Kind:
    """How a record field is read from JSON and written back."""

    def read(self, value: Any) -> Any:
        return value

    def write(self, value: Any) -> Any:
        return _plain(value)


class _Time(_Kind):
    def read(self, value: Any) -> Any:
        return parse_time(value)


class _Seconds(_Kind):  # nanoseconds on the wire
    def read(self, value: Any) -> Any:
        return value * _NS

    def write(self, value: Any) -> Any:
        return int(round(value / _NS))


class _Ident(_Kind):  # {"namespace", "name"} on the wire, "NAMESPACE.NAME" here
    def read(self, value: Any) -> Any:
        return f"{value.get('namespace', '')}.{value.get('name', '')}" if isinstance(value, dict) else value

    def write(self, value: Any) -> Any:
        namespace, _, name = str(value).partition(".")
        return {"namespace": namespace, "name": name}


class _One(_Kind):
    def __init__(self, cls: Any) -> None:
        self.cls = cls

    def read(self, value: Any) -> Any:
        return self.cls.from_json(value)


class _Many(_One):
    def read(self, value: Any) -> Any:
        return [self.cls.from_json(v) for v in value]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _f(default: Any = None, *, key: Optional[str] = None, kind: Optional[_Kind] = None, factory: Any = None) -> Any:
    """A record field: its JSON key (default the field's name; "a.b" is b inside a) and how it is read."""
    meta = {"key": key, "kind": kind or _Kind()}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _raw() -> Any:
    return field(default_factory=dict, repr=False, metadata={"raw": True})


def _lookup(data: Dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)  # type: ignore[assignment]
    return data


class Record:
    """The mixin of the client's results: typed attributes, and the server's JSON as a read-only
    mapping, so code written for dicts keeps working: ``branch["commit"]``, ``branch.get("commit")``,
    ``"commit" in branch``, ``dict(branch)``, ``branch == {...}``. ``to_dict()`` returns a copy of
    the JSON (times as the server wrote them). A record built by hand maps its attributes."""

    raw: Dict[str, Any]
    _from_fields: ClassVar[bool] = False  # map the attributes, not the JSON received (editable records)

    @classmethod
    def from_json(cls, data: Any) -> Any:
        """The record of a JSON object the server sent."""
        if not isinstance(data, dict):
            raise TarnError(f"the server sent {type(data).__name__} where a {cls.__name__} belongs: {data!r:.200}")
        values = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if "kind" not in f.metadata:
                continue
            value = _lookup(data, f.metadata["key"] or f.name)
            if value is not None:
                values[f.name] = f.metadata["kind"].read(value)
        return cls(**values, raw=data)  # type: ignore[call-arg]

    def __post_init__(self) -> None:
        if not self.raw:
            self.raw = self._fields_json()

    def _fields_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if "kind" not in f.metadata or value is None:
                continue
            *outer, last = (f.metadata["key"] or f.name).split(".")
            target = out
            for part in outer:
                target = target.setdefault(part, {})
            target[last] = f.metadata["kind"].write(value)
        return out

    def _view(self) -> Dict[str, Any]:
        return self._fields_json() if self._from_fields else self.raw

    def to_dict(self) -> Dict[str, Any]:
        """The record as JSON-ready dicts and lists (a copy)."""
        return copy.deepcopy(self._view())

    def __getitem__(self, key: str) -> Any:
        return self._view()[key]

    def get(self, key: str, default: Any = None) -> Any:
        """``record[key]``, or ``default`` when the JSON has no such key."""
        return self._view().get(key, default)

    def keys(self) -> Any:
        """The keys of the JSON."""
        return self._view().keys()

    def __contains__(self, key: object) -> bool:
        return key in self._view()

    def __iter__(self) -> Iterator[str]:
        return iter(self._view())

    def __len__(self) -> int:
        return len(self._view())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dict):
            return self._view() == other
        if isinstance(other, Record):
            return type(self) is type(other) and self._view() == other._view()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like the dicts it stands for


@dataclass(eq=False)
class Ref(Record):
    """A branch or tag: ``name``, ``kind`` (``branch`` or ``tag``) and the ``commit`` hash it points at."""

    name: str = _f("")
    kind: str = _f("")
    commit: str = _f("")
    raw: Dict[str, Any] = _raw()


@dataclass(eq=False)
class Branch(Ref):
    """A branch (``kind`` is ``branch``)."""

    kind: str = _f("branch")


@dataclass(eq=False)
class Tag(Ref):
    """A tag (``kind`` is ``tag``)."""

    kind: str = _f("tag")


def ref_from_json(data: Any) -> Ref:
    """A Branch or a Tag, by the JSON's kind."""
    return (Tag if isinstance(data, dict) and data.get("kind") == "tag" else Branch).from_json(data)


@dataclass(eq=False)
class Commit(Record):
    """A commit: ``hash``, ``parents`` (hashes, first parent first), ``author``, ``message``, ``time``
    (an aware datetime), ``properties``, ``tree`` and ``generation`` (1 + its longest parent chain)."""

    hash: str = _f("")
    parents: List[str] = _f(factory=list)
    author: str = _f("")
    message: str = _f("")
    time: Optional[datetime] = _f(kind=_Time())
    properties: Dict[str, str] = _f(factory=dict)
    tree: str = _f("")
    generation: int = _f(0)
    raw: Dict[str, Any] = _raw()

    @property
    def short_hash(self) -> str:
        """The first 12 characters of the hash, as the CLI prints it."""
        return self.hash[:12]


@dataclass(eq=False)
class Namespace(Record):
    """A namespace at a ref and how many ``tables`` it has."""

    name: str = _f("")
    tables: int = _f(0)
    raw: Dict[str, Any] = _raw()


@dataclass(eq=False)
class Column(Record):
    """A column of a table: Iceberg field ``id``, ``name``, ``type`` (an Iceberg type name) and ``required``."""

    id: int = _f(0)
    name: str = _f("")
    type: str = _f("")
    required: bool = _f(False)
    raw: Dict[str, Any] = _raw()


@dataclass(eq=False)
class PartitionField(Record):
    """A field of a partition spec: its ``name``, ``transform`` (``identity``, ``day``, ``bucket[16]``…) and ``source`` column."""

    name: str = _f("")
    transform: str = _f("")
    source: str = _f("")
    raw: Dict[str, Any] = _raw()


@dataclass(eq=False)
class Snapshot(Record):
    """An Iceberg snapshot of a table."""

    snapshot_id: int = _f(0)
    parent_id: Optional[int] = _f()
    time: Optional[datetime] = _f(kind=_Time())
    operation: str = _f("")
    added_rows: int = _f(0)
    total_rows: int = _f(0)
    current: bool = _f(False)
    raw: Dict[str, Any] = _raw()


@dataclass(eq=False)
class DataFile(Record):
    """A data file of a table's current snapshot."""

    path: str = _f("")
    rows: int = _f(0)
    bytes: int = _f(0)
    raw: Dict[str, Any] = _raw()


@dataclass(eq=False)
class Table(Record):
    """A table. A listing (``list_tables``) fills ``namespace``, ``name``, ``rows``, ``files``,
    ``bytes``, ``snapshot_id`` and ``metadata_location``; a description (``get_table``) also the
    ``ref`` and ``commit`` it was read at, ``schema`` (Columns), ``partition_spec``, the
    ``current_snapshot``, ``data_files`` and ``history``. ``table["table"]`` is the JSON's
    ``{"namespace", "name"}``; ``full_name`` is ``NAMESPACE.NAME``."""

    namespace: str = _f("", key="table.namespace")
    name: str = _f("", key="table.name")
    rows: int = _f(0)
    files: int = _f(0)
    bytes: int = _f(0)
    snapshot_id: Optional[int] = _f()
    metadata_location: str = _f("")
    ref: Optional[str] = _f()
    commit: Optional[str] = _f()
    uuid: Optional[str] = _f()
    format_version: Optional[int] = _f()
    location: Optional[str] = _f()
    schema: List[Column] = _f(factory=list, kind=_Many(Column))
    partition_spec: List[PartitionField] = _f(factory=list, kind=_Many(PartitionField))
    current_snapshot: Optional[Snapshot] = _f(kind=_One(Snapshot))
    data_files: List[DataFile] = _f(factory=list, kind=_Many(DataFile))
    history: List[Snapshot] = _f(factory=list, kind=_Many(Snapshot))
    raw: Dict[str, Any] = _raw()

    @property
    def full_name(self) -> str:
        """``NAMESPACE.NAME``."""
        return f"{self.namespace}.{self.name}"


@dataclass(eq=False)
class Entry(Record):
    """A catalog entry: a namespace or a table's state (``metadata`` location, ``snapshot``, ``rows``, ``files``, ``bytes``)."""

    kind: str = _f("")
    metadata: Optional[str] = _f()
    snapshot: Optional[int] = _f()
    rows: int = _f(0)
    files: int = _f(0)
    bytes: int = _f(0)
    raw: Dict[str, Any] = _raw()


@dataclass(eq=False)
class Change(Record):
    """A change between two refs: ``key`` (``NAMESPACE`` or ``NAMESPACE.TABLE``), ``change``
    (``added``, ``removed``, ``changed``) and the ``old`` and ``new`` Entry."""

    key: str = _f("")
    change: str = _f("")
    old: Optional[Entry] = _f(kind=_One(Entry))
    new: Optional[Entry] = _f(kind=_One(Entry))
    raw: Dict[str, Any] = _raw()


@dataclass(eq=False)
class MergeResult(Record):
    """The outcome of a merge: the ``commit`` ``into`` is at afterwards, whether it was a
    ``fast_forward`` or already ``up_to_date``, the merge ``base`` and the ``changes`` merged."""

    source: str = _f("")
    into: str = _f("")
    commit: Optional[Commit] = _f(kind=_One(Commit))
    fast_forward: bool = _f(False)
    up_to_date: bool = _f(False)
    base: str = _f("")
    changes: List[Change] = _f(factory=list, kind=_Many(Change))
    raw: Dict[str, Any] = _raw()


@dataclass(eq=False)
class WriteResult(Record):
    """A table write: ``table`` (``NAMESPACE.NAME``), ``branch``, the ``commit`` made, the table's
    ``entry`` after it, ``added_rows``, ``existed`` (kept by ``if_not_exists``: nothing written) and
    ``schema_changes``."""

    table: str = _f("", kind=_Ident())
    branch: str = _f("")
    commit: Optional[Commit] = _f(kind=_One(Commit))
    entry: Optional[Entry] = _f(kind=_One(Entry))
    added_rows: int = _f(0)
    existed: bool = _f(False)
    schema_changes: List[str] = _f(factory=list)
    raw: Dict[str, Any] = _raw()


@dataclass(eq=False)
class JobError(Record):
    """The error a job ended with: its ``code`` and ``message``."""

    code: str = _f("")
    message: str = _f("")
    raw: Dict[str, Any] = _raw()


@dataclass(eq=False)
class Job(Record):
    """A job of the server (a run, query or import): ``id``, ``kind``, ``state`` (``queued``,
    ``running``, ``succeeded``, ``failed``, ``cancelled``), ``user``, ``ref``, ``summary``, the
    times (aware datetimes), the ``error`` it ended with, and a run's ``result`` (the server's
    JSON; ``RunResult.from_job(job)`` reads it)."""

    id: str = _f("")
    kind: str = _f("")
    state: str = _f("")
    user: str = _f("")
    ref: str = _f("")
    summary: str = _f("")
    created: Optional[datetime] = _f(kind=_Time())
    started: Optional[datetime] = _f(kind=_Time())
    finished: Optional[datetime] = _f(kind=_Time())
    error: Optional[JobError] = _f(kind=_One(JobError))
    result: Optional[Dict[str, Any]] = _f()
    raw: Dict[str, Any] = _raw()

    @property
    def done(self) -> bool:
        """True once the job has ended (succeeded, failed or cancelled)."""
        return self.state in ("succeeded", "failed", "cancelled")


@dataclass(eq=False)
class User(Record):
    """A user of the server: ``name``, ``admin``, when it was ``created`` and when its token ``expires`` (or None)."""

    name: str = _f("")
    admin: bool = _f(False)
    created: Optional[datetime] = _f(kind=_Time())
    expires: Optional[datetime] = _f(kind=_Time())
    raw: Dict[str, Any] = _raw()


@dataclass(eq=False)
class PlanColumn(Record):
    """A column of a table plan: ``name``, ``type`` (an Iceberg type name: ``long``, ``double``,
    ``timestamptz``, ``decimal(10,2)``, …) and ``required``. Edit them before applying the plan."""

    name: str = _f("")
    type: str = _f("")
    required: bool = _f(False)
    raw: Dict[str, Any] = _raw()
    _from_fields: ClassVar[bool] = True


@dataclass(eq=False)
class TablePlan(Record):
    """What creating a table would do, worked out by the server without writing
    (``Client.plan_table_creation``): the ``table`` (``NAMESPACE.NAME``), the ``branch`` and the
    ``commit`` it was at, the ``action`` (``create``; ``replace`` with ``replace=True`` and the
    table there; ``keep`` with ``if_not_exists=True`` and the table there: nothing would be
    written), the ``columns`` (inferred from the data or given by its schema), the
    ``partition_by`` spec and the ``partition_spec`` it resolves to, and the names of the
    ``files`` read. ``columns`` and ``partition_by`` may be edited before
    ``Client.apply_table_creation_plan``; ``data`` is what the plan was made from, uploaded
    again when it is applied. Its mapping view (``plan["columns"]``, ``to_dict()``) follows
    the edits."""

    table: str = _f("", kind=_Ident())
    branch: str = _f("")
    commit: str = _f("")
    action: str = _f("create")
    columns: List[PlanColumn] = _f(factory=list, kind=_Many(PlanColumn))
    partition_by: Optional[str] = _f()
    partition_spec: List[PartitionField] = _f(factory=list, kind=_Many(PartitionField))
    files: List[str] = _f(factory=list)
    data: Any = field(default=None, repr=False)
    raw: Dict[str, Any] = _raw()
    _from_fields: ClassVar[bool] = True


@dataclass(eq=False)
class ExportResult(Record):
    """A query result written to a file (``Client.query_to_parquet_file`` and the like): the
    local ``path``, its ``format``, the ``rows`` written, the ``commit`` queried, the ``tables``
    scanned (dicts) and the ``duration`` in seconds (on the server)."""

    path: str = _f("")
    format: str = _f("")
    rows: int = _f(0)
    commit: Optional[Commit] = _f(kind=_One(Commit))
    tables: List[Dict[str, Any]] = _f(factory=list)
    duration: float = _f(0.0, key="duration_ns", kind=_Seconds())
    raw: Dict[str, Any] = _raw()


@dataclass
class StepResult:
    """One step of a run: a model, SQL model or expectation.

    ``state`` is ``done``, ``cached`` (served from the run cache; ``cached`` is
    True too), ``failed``, ``skipped``, ``queued`` or ``running``. ``duration``
    and ``saved`` are seconds; ``saved`` is, for a cached step, what computing
    it cost. ``table`` is the table a materialized model wrote.
    """

    name: str
    kind: str
    state: str
    rows: int = 0
    duration: float = 0.0
    table: Optional[str] = None
    env: Optional[str] = None
    error: Optional[str] = None
    reason: Optional[str] = None
    cached: bool = False
    saved: float = 0.0

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "StepResult":
        return cls(
            name=d.get("name", ""),
            kind=d.get("kind", ""),
            state=d.get("state", ""),
            rows=int(d.get("rows") or 0),
            duration=(d.get("duration_ns") or 0) * _NS,
            table=d.get("table") or None,
            env=d.get("env") or None,
            error=d.get("error") or None,
            reason=d.get("reason") or None,
            cached=bool(d.get("cached")),
            saved=(d.get("saved_ns") or 0) * _NS,
        )


@dataclass
class RunResult:
    """The outcome of ``Client.run``: the job, whether it published, and every step's result.

    ``state`` is the job's final state (``succeeded``, ``failed``,
    ``cancelled``); ``ok`` is True when it succeeded. ``commit`` is the
    published Commit, ``run_branch`` the branch a failed run leaves
    for inspection, ``duration`` seconds. ``raw`` holds the server's JSON.
    """

    job_id: str
    state: str
    run_id: str = ""
    project: str = ""
    target: str = ""
    run_branch: Optional[str] = None
    base: str = ""
    commit: Optional[Commit] = None
    published: bool = False
    dry_run: bool = False
    isolation: str = ""
    steps: List[StepResult] = field(default_factory=list)
    duration: float = 0.0
    error: Optional[str] = None
    error_code: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """True when the run's job succeeded."""
        return self.state == "succeeded"

    def step(self, name: str) -> StepResult:
        """The result of the step called ``name`` (KeyError naming the steps when there is none)."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"no step {name!r} in run {self.run_id}: steps are {', '.join(s.name for s in self.steps) or 'none'}")

    @classmethod
    def from_job(cls, job: Dict[str, Any]) -> "RunResult":
        res = job.get("result") or {}
        err = job.get("error") or {}
        return cls(
            job_id=job.get("id", ""),
            state=job.get("state", ""),
            run_id=res.get("run_id", ""),
            project=res.get("project", ""),
            target=res.get("target", "") or job.get("ref", ""),
            run_branch=res.get("run_branch") or None,
            base=res.get("base", ""),
            commit=Commit.from_json(res["commit"]) if res.get("commit") else None,
            published=bool(res.get("published")),
            dry_run=bool(res.get("dry_run")),
            isolation=res.get("isolation", ""),
            steps=[StepResult.from_json(s) for s in res.get("steps") or []],
            duration=(res.get("duration_ns") or 0) * _NS,
            error=err.get("message") or res.get("error") or None,
            error_code=err.get("code") or None,
            raw=job.to_dict() if isinstance(job, Record) else job,
        )


# The kinds of run events and the states of steps (testdata/events holds them
# with the lines the CLI prints; this module prints the same).
EVENT_START, EVENT_PLAN, EVENT_ENV, EVENT_STEP, EVENT_LOG = "start", "plan", "env", "step", "log"
EVENT_PREVIEW, EVENT_PUBLISH, EVENT_INFO, EVENT_JOB = "preview", "publish", "info", "job"
EVENT_KINDS = (EVENT_START, EVENT_PLAN, EVENT_ENV, EVENT_STEP, EVENT_LOG, EVENT_PREVIEW, EVENT_PUBLISH, EVENT_INFO, EVENT_JOB)
STEP_QUEUED, STEP_RUNNING, STEP_DONE, STEP_CACHED = "queued", "running", "done", "cached"
STEP_FAILED, STEP_SKIPPED, STEP_CANCELLED = "failed", "skipped", "cancelled"
STEP_STATES = (STEP_QUEUED, STEP_RUNNING, STEP_DONE, STEP_CACHED, STEP_FAILED, STEP_SKIPPED, STEP_CANCELLED)


def go_duration(ns: int) -> str:
    """A duration in nanoseconds as Go prints ``time.Duration.Round(time.Millisecond)``: 84ms, 1.5s, 1m2.003s."""
    ms = int(round((ns or 0) / 1e6))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{minutes}m{seconds}"
    return seconds


def count(n: int) -> str:
    """A row count as the CLI prints it: digits grouped by commas from 10,000 on."""
    return f"{n:,}" if n >= 10000 else str(n)


def format_event(e: Dict[str, Any]) -> Optional[str]:
    """One run event as the CLI prints it (``▶ step running``, ``  [step] user log line``), or None."""
    kind, step, state = e.get("kind"), e.get("step", ""), e.get("state")
    message = e.get("message", "")
    if kind in (EVENT_START, EVENT_JOB, EVENT_ENV, EVENT_INFO, EVENT_PUBLISH):
        return message
    if kind == EVENT_PLAN:
        return "plan: " + message
    if kind == EVENT_LOG:
        return f"  [{step}] {message}"
    if kind == EVENT_PREVIEW:
        return f"  [{step}] preview:\n    " + message.replace("\n", "\n    ")
    if kind != EVENT_STEP:
        return None
    expectation = e.get("step_kind") == "expectation"
    rows = count(e.get("rows") or 0)
    if state == STEP_RUNNING:
        return f"▶ {step} running"
    if state == STEP_DONE:
        if expectation:
            return f"✓ {step} passed ({go_duration(e.get('duration_ns'))})"
        return f"✓ {step} done: {rows} rows, {go_duration(e.get('duration_ns'))}"
    if state == STEP_CACHED:
        if expectation:
            return f"✓ {step} passed (cached)"
        return f"✓ {step} cached: {rows} rows, saved {go_duration(e.get('saved_ns'))}"
    if state == STEP_FAILED:
        return f"✗ {step} failed"
    if state == STEP_SKIPPED:
        return f"- {step} skipped (an input failed)"
    if state == STEP_CANCELLED:
        return f"- {step} cancelled"
    return None


def print_event(e: Dict[str, Any], file: Optional[TextIO] = None) -> None:
    """The default ``on_event`` of ``Client.run``: print step lines and user logs to stderr like the CLI."""
    line = format_event(e)
    if line is not None:
        print(line, file=file or sys.stderr, flush=True)
