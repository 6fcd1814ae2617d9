"""What ``Client.run`` returns, and the default printer of run events."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, TextIO

_NS = 1e-9


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
    published commit (a dict), ``run_branch`` the branch a failed run leaves
    for inspection, ``duration`` seconds. ``raw`` holds the server's JSON.
    """

    job_id: str
    state: str
    run_id: str = ""
    project: str = ""
    target: str = ""
    run_branch: Optional[str] = None
    base: str = ""
    commit: Optional[Dict[str, Any]] = None
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
            commit=res.get("commit"),
            published=bool(res.get("published")),
            dry_run=bool(res.get("dry_run")),
            isolation=res.get("isolation", ""),
            steps=[StepResult.from_json(s) for s in res.get("steps") or []],
            duration=(res.get("duration_ns") or 0) * _NS,
            error=err.get("message") or res.get("error") or None,
            error_code=err.get("code") or None,
            raw=job,
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
