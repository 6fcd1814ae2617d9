"""Run one pipeline step: ``python -m tarn._worker SPEC_JSON_PATH``.

The Go runtime starts one worker process per step, inside the step's own
Python environment, with PYTHONPATH pointing at this SDK and the current
directory set to a scratch directory. The worker:

1. reads the spec and applies the memory limit (``RLIMIT_DATA``, see
   :func:`set_memory_limit`);
2. memory-maps each input Arrow IPC file (zero-copy), then applies the
   declared ``columns`` and ``filter``;
3. imports the user's file by path and calls the function with inputs and
   parameters as keyword arguments (``kind`` "model" or "expectation"), or
   runs the query with DuckDB (``kind`` "sql");
4. writes the output as an Arrow IPC file and a result JSON, both atomically.

Exit status: 0 success, 1 user error (the result JSON says what and where),
2 spec or usage error, 3 expectation evaluated and failed. The full protocol
is in python/README.md.

Only pyarrow and the standard library are imported at start; pandas, polars
and duckdb are imported only when a step uses them, so the worker starts
about as fast as ``python -c "import pyarrow"``.

Warm: ``python -m tarn._worker --warm FD`` is started ahead of need (the Go
runtime's pool). It imports what every step needs (pandas too, when the
environment has it: pyarrow imports it on first use), writes ``R`` to the
status descriptor FD, then blocks on stdin for one hand-off line, a JSON
object ``{"spec": SPEC_JSON_PATH, "scratch": DIRECTORY}``. It writes ``S``
(it took the step), closes FD, moves into the step's scratch directory
(also its HOME and TMPDIR) and runs the step exactly as above; then it
exits. End of input before a hand-off (the pool let it go) exits 0.

Secrets: a spec may name, in ``"secrets"``, parameters whose values are
never written to a file. A cold worker reads them first thing as one line
on stdin, ``{"secrets": {KEY: VALUE}}``; a warm one gets them in the
hand-off (``"secrets"``). They join the parameters, and every value is
replaced by ``***`` in the result document (messages, tracebacks); the Go
side masks them in the output it streams.
"""

from __future__ import annotations

import json
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~2 ms of worker start-up; annotations are never evaluated
    from typing import Any, Dict, List, Optional, Tuple

import pyarrow as pa

from . import _arrow
from ._exceptions import InputError, OutputError

__all__ = ["main", "run", "set_memory_limit", "set_address_space_limit", "proc_status", "serve_warm"]

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_SPEC_ERROR = 2
EXIT_EXPECTATION_FAILED = 3

KINDS = ("model", "expectation", "sql")


class SpecError(Exception):
    """The spec is unusable: the caller's fault, not the user's (exit status 2)."""


def _unbuffer() -> None:
    """Flush stdout/stderr on every line, so output streams live through a pipe."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)


_secrets: List[str] = []  # the step's secret values, masked in the result


def read_secrets(spec: Dict[str, Any], given: Optional[Dict[str, Any]]) -> None:
    """Add the values of the spec's secrets to its parameters.

    ``given`` are a warm worker's (from its hand-off); a cold one reads one
    line on stdin. stdin is /dev/null afterwards, as for a step without any.
    """
    names = spec.get("secrets") or []
    if not names:
        return
    if not isinstance(names, list):
        raise SpecError("spec secrets must be a list of parameter names")
    if given is None:
        try:
            line = sys.stdin.buffer.readline()
            given = json.loads(line.decode("utf-8"))["secrets"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SpecError(f"cannot read the step's secrets on stdin: {type(exc).__name__}") from None
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
    if not isinstance(given, dict) or any(not isinstance(given.get(name), str) for name in names):
        raise SpecError(f"the step's secrets lack a value of {', '.join(names)}")
    parameters = dict(spec.get("parameters") or {})
    for name in names:
        parameters[name] = given[name]
        _secrets.append(given[name])
    spec["parameters"] = parameters


def mask(text: Any) -> Any:
    """``text`` with the step's secret values (and each line of one) as ``***``."""
    if not isinstance(text, str) or not _secrets:
        return text
    forms = set()
    for value in _secrets:
        forms.add(value)
        forms.update(line.rstrip("\r") for line in value.split("\n"))
    for form in sorted((f for f in forms if f.strip()), key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def read_spec(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as source:
            spec = json.load(source)
    except (OSError, ValueError) as exc:
        raise SpecError(f"cannot read spec {path}: {exc}") from None
    if not isinstance(spec, dict):
        raise SpecError(f"spec {path} must be a JSON object")
    return spec


def check_spec(spec: Dict[str, Any], path: str) -> None:
    kind = spec.get("kind")
    if kind not in KINDS:
        raise SpecError(f"spec kind must be one of {', '.join(KINDS)}, got {kind!r}")
    required = ["result", "project_dir"] + (["sql", "output"] if kind == "sql" else ["file", "function"])
    if kind == "model":
        required.append("output")
    missing = [key for key in required if not spec.get(key)]
    if missing:
        raise SpecError(f"spec {path} lacks {', '.join(missing)}")
    if not isinstance(spec.get("inputs") or {}, dict) or not isinstance(spec.get("parameters") or {}, dict):
        raise SpecError(f"spec {path}: inputs and parameters must be JSON objects")


def set_memory_limit(limit_bytes: int) -> None:
    """Limit the process's data segment to ``limit_bytes`` (0: no limit).

    ``RLIMIT_DATA`` (Linux >= 4.7) counts private writable memory: the heap,
    anonymous mmaps (Arrow's and numpy's buffers, thread stacks) but not
    file-backed shared mappings, so the memory-mapped input files in /dev/shm
    do not count against the limit. ``RLIMIT_AS`` would count them, and every
    reserved-but-unused address range, and fail far below the real usage.
    An allocation over the limit raises MemoryError in Python (or aborts
    native code that cannot handle failure, e.g. Rust: then there is no
    result file and the process dies of SIGABRT).
    """
    _set_rlimit("RLIMIT_DATA", limit_bytes, "memory")


def set_address_space_limit(limit_bytes: int) -> None:
    """Limit the address space to ``limit_bytes`` (0: leave it).

    Where no cgroup bounds a step's memory, the runtime asks for this
    bound: unlike ``RLIMIT_DATA`` it counts shared mappings too (so
    ``mmap(MAP_SHARED)`` cannot get past the memory limit), and the runtime
    adds the size of the inputs the worker maps to the memory limit. It
    can only be lowered.
    """
    _set_rlimit("RLIMIT_AS", limit_bytes, "address-space")


def _set_rlimit(which: str, limit_bytes: int, what: str) -> None:
    """Lower the rlimit ``which`` to ``limit_bytes`` (0: leave it), never above its hard limit."""
    if not limit_bytes:
        return
    import resource

    kind = getattr(resource, which)
    _, hard = resource.getrlimit(kind)
    limit = limit_bytes if hard == resource.RLIM_INFINITY else min(limit_bytes, hard)
    try:
        resource.setrlimit(kind, (limit, limit))
    except (ValueError, OSError) as exc:
        raise SpecError(f"cannot set the {what} limit to {limit_bytes} bytes: {exc}") from None


_STATUS_FIELDS = ("Uid", "CapEff", "CapBnd", "NoNewPrivs", "Seccomp")


def proc_status() -> str:
    """The lines of ``/proc/self/status`` that tell this process's privileges ("" off Linux).

    The runtime checks them against what its sandbox promises (no
    capabilities, an unprivileged uid) and refuses a step's result otherwise.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            return "".join(line for line in status if line.split(":", 1)[0] in _STATUS_FIELDS)
    except OSError:
        return ""


def _load_module(project_dir: str, file: str) -> Any:
    import importlib.util

    path = os.path.join(project_dir, file)
    if not os.path.isfile(path):
        raise SpecError(f"model file {path} does not exist")
    # Like running the file as a script: its own directory first (sibling
    # imports), then the project root (imports of project packages).
    for directory in (project_dir, os.path.dirname(path)):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    stem = os.path.splitext(os.path.basename(path))[0]
    name = stem if stem.isidentifier() and stem not in sys.modules else "tarn_user_module"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _read_inputs(spec: Dict[str, Any], batches: Any = ()) -> Tuple[Dict[str, Any], List[Any]]:
    """Open every input: a Table, or an iterator of batches for the keys in ``batches``
    (or whose entry says so); and their statistics (:class:`tarn._lake.Input`)."""
    from . import _lake

    tables: Dict[str, Any] = {}
    opened = []
    limit = int(spec.get("memory_limit_bytes") or 0)
    scratch = os.environ.get("TMPDIR") or os.getcwd()
    for key, entry in (spec.get("inputs") or {}).items():
        if not isinstance(entry, dict) or not (entry.get("path") or entry.get("files") is not None):
            raise SpecError(f"input {key} needs a path or files")
        if key in batches:
            entry = dict(entry, batches=True)
        try:
            tables[key], inp = _lake.open_input(key, entry, limit, scratch)
        except (OSError, pa.ArrowInvalid) as exc:
            where = entry.get("path") or f"{len(entry['files'])} data file(s)"
            raise SpecError(f"cannot read input {key} from {where}: {exc}") from None
        opened.append(inp)
    return tables, opened


def _arguments(function: Any, spec: Dict[str, Any], tables: Dict[str, pa.Table]) -> Dict[str, Any]:
    """Keyword arguments: inputs by parameter name, then parameters.

    Parameter keys are function parameter names; a key equal to a
    ``tarn.Parameter``'s name is mapped to its parameter. Keys that match
    neither are ignored.
    """
    from ._decorators import Arguments

    kwargs: Dict[str, Any] = dict(tables)
    parameters = spec.get("parameters") or {}
    try:
        arguments = Arguments(function)
    except AttributeError:  # not a plain Python function: pass everything
        return dict(parameters, **kwargs)
    tarn_spec = getattr(function, "__tarn__", None)
    by_name = {p.name or param: param for param, p in getattr(tarn_spec, "parameters", {}).items()}
    for key, value in parameters.items():
        if arguments.accepts(key):
            kwargs.setdefault(key, value)
        elif key in by_name:
            kwargs.setdefault(by_name[key], value)
    return kwargs


def _call(function: Any, kwargs: Dict[str, Any], timing: Dict[str, Any]) -> Any:
    timing["started_at_ns"] = time.time_ns()
    start = time.perf_counter()
    try:
        value = function(**kwargs)
        if hasattr(value, "__await__"):
            import asyncio

            value = asyncio.run(_await(value))
        return value
    finally:
        timing["seconds"] = time.perf_counter() - start


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _check_output(table: Any, columns: Optional[List[str]], name: str) -> Any:
    """Select the declared output columns of a table or a record batch, or fail naming those missing."""
    if not columns:
        return table
    names = table.schema.names
    missing = [c for c in columns if c not in names]
    if missing:
        raise OutputError(
            f"model {name} declares columns {', '.join(columns)} but its output lacks "
            f"{', '.join(missing)} (it has: {', '.join(names)})"
        )
    return table.select(columns)


def _batched(batches: Any, check: Any) -> Any:
    """Apply ``check`` (a function of a Table) to every batch of an iterator."""
    for batch in batches:
        for out in check(pa.Table.from_batches([batch])).to_batches():
            yield out


def _batch_params(tarn_spec: Any) -> set:
    """The inputs a model takes as iterators of record batches (``tarn.Model(..., batches=True)``
    or an ``Iterator[pyarrow.RecordBatch]`` annotation)."""
    return {param for param, source in getattr(tarn_spec, "inputs", {}).items() if getattr(source, "batches", False)}


def run(spec: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
    """Run a loaded spec; return the exit status and the result document. User errors propagate."""
    kind = spec["kind"]
    project_dir = os.path.abspath(spec["project_dir"])
    name = spec.get("name") or spec.get("function") or "sql"
    timing: Dict[str, Any] = {"worker_started_at_ns": time.time_ns()}
    profile: Dict[str, Any] = {}

    function = tarn_spec = None
    if kind != "sql":
        start = time.perf_counter()
        module = _load_module(project_dir, spec["file"])
        timing["import_seconds"] = time.perf_counter() - start
        function = getattr(module, spec["function"], None)
        if not callable(function):
            raise AttributeError(f"{spec['file']} defines no function {spec['function']}")
        tarn_spec = getattr(function, "__tarn__", None)

    start = time.perf_counter()
    tables, opened = _read_inputs(spec, _batch_params(tarn_spec))
    timing["input_seconds"] = time.perf_counter() - start

    if kind == "sql":
        from . import _sql

        timing["started_at_ns"] = time.time_ns()
        start = time.perf_counter()
        try:
            value = _sql.run(spec["sql"], tables, int(spec.get("memory_limit_bytes") or 0), spec.get("parameters") or None)
        finally:
            timing["seconds"] = time.perf_counter() - start
        columns = output_schema = None
    else:
        for param, source in getattr(tarn_spec, "inputs", {}).items():
            if source.projection_schema is not None and param in tables:
                from ._schema import check_table

                what = f"input {param} ({source.name})"
                check = lambda t, s=source.projection_schema, w=what: check_table(t, s, w, False, InputError)  # noqa: E731
                tables[param] = check(tables[param]) if isinstance(tables[param], pa.Table) else _batched(tables[param], check)
        kwargs = _arguments(function, spec, tables)
        if kind == "expectation":
            from ._expectations import AssertionFailed

            try:
                value = _call(function, kwargs, timing)
            except AssertionError as exc:
                from ._report import assertion_message

                value = AssertionFailed(assertion_message(exc, project_dir))
        else:
            value = _call(function, kwargs, timing)
        columns = getattr(tarn_spec, "columns", None)
        output_schema = getattr(tarn_spec, "output_schema", None)

    if kind == "expectation":
        from ._expectations import verdict

        passed, message = verdict(value)
        return (EXIT_OK if passed else EXIT_EXPECTATION_FAILED), dict(ok=True, passed=passed, message=message, profile=_profile(opened, timing, None), **timing)

    def check(table: Any) -> Any:
        table = _check_output(table, columns, name)
        if output_schema is not None:
            from ._schema import check_table

            table = check_table(table, output_schema, f"the output of model {name}", True, OutputError)
        return table

    start = time.perf_counter()
    streamed = _arrow.to_batches(value)
    if streamed is not None:
        value = _batched(streamed, check)
    else:
        try:
            value = _arrow.to_table(value)
        except TypeError as exc:
            raise OutputError(f"model {name} returned an unusable value: {exc}") from None
        value = check(value)
    try:
        written = _arrow.write_output(value, spec["output"])
    except TypeError as exc:
        raise OutputError(f"model {name} returned an unusable value: {exc}") from None
    except OSError as exc:
        if streamed is not None and getattr(exc, "filename", None) is None:
            raise  # the model's own generator failed
        raise SpecError(f"cannot write the output {spec['output']}: {exc}") from None
    elapsed = time.perf_counter() - start
    if streamed is not None:
        # The model's generator ran inside the write: that time, less the
        # writing, is the model's (input batches read meanwhile included).
        timing["seconds"] = timing.get("seconds", 0.0) + max(0.0, elapsed - written["seconds"])
        timing["output_seconds"] = written["seconds"]
    else:
        timing["output_seconds"] = elapsed
    schema = written["schema"]
    return EXIT_OK, dict(
        ok=True,
        rows=written["rows"],
        columns=[{"name": field.name, "type": str(field.type)} for field in schema],
        output_bytes=written["bytes"],
        output_checksum=written["checksum"],
        profile=_profile(opened, timing, written),
        **timing,
    )


def _profile(opened: List[Any], timing: Dict[str, Any], written: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The worker's phases for the step's profile: read (inputs), code (the user's), write (the output)."""
    read = {"seconds": sum(inp.seconds for inp in opened), "rows": sum(inp.rows for inp in opened),
            "bytes": sum(inp.bytes for inp in opened), "files": sum(inp.files for inp in opened),
            "spooled_bytes": sum(inp.spooled for inp in opened),
            "whole_bytes": sum(inp.whole for inp in opened)}
    # Batches are read while the user's code runs: that time is the read's.
    streamed = sum(inp.seconds for inp in opened if inp.entry.get("batches"))
    out: Dict[str, Any] = {"read": read, "code": {"seconds": max(0.0, timing.get("seconds", 0.0) - streamed)},
                           "import": {"seconds": timing.get("import_seconds", 0.0)},
                           "inputs": {inp.key: inp.stats() for inp in opened}}
    if written is not None:
        out["write"] = {"seconds": timing.get("output_seconds", 0.0), "rows": written["rows"], "bytes": written["bytes"]}
    return out


USAGE = "usage: python -m tarn._worker SPEC_JSON_PATH | --warm STATUS_FD\n"


def main(argv: Optional[List[str]] = None, secrets: Optional[Dict[str, Any]] = None) -> int:
    _unbuffer()
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--warm" and args[1].isdigit():
        return serve_warm(int(args[1]))
    if len(args) != 1 or args[0] in ("-h", "--help", "--warm"):
        sys.stderr.write(USAGE)
        return EXIT_SPEC_ERROR
    spec: Dict[str, Any] = {}
    try:
        spec = read_spec(args[0])
        check_spec(spec, args[0])
        read_secrets(spec, secrets)
        set_memory_limit(int(spec.get("memory_limit_bytes") or 0))
        set_address_space_limit(int(spec.get("address_space_bytes") or 0))
        if spec.get("store"):
            from . import store

            store._dir = spec["store"]
        status, result = run(spec)
    except SpecError as exc:
        sys.stderr.write(f"tarn worker: {exc}\n")
        if spec.get("result"):
            _write_result({"ok": False, "error_type": "SpecError", "message": str(exc)}, spec["result"])
        return EXIT_SPEC_ERROR
    except (Exception, SystemExit) as exc:  # noqa: B902 - user code may raise anything
        from ._report import failure

        return _write_result(failure(exc, spec), spec["result"]) or EXIT_USER_ERROR
    return _write_result(result, spec["result"]) or status


def serve_warm(status_fd: int) -> int:
    """Wait for one step handed over on stdin, then run it as :func:`main` would."""
    import importlib.util
    import pyarrow.ipc  # noqa: F401 - every step reads or writes Arrow IPC files

    import tarn  # noqa: F401 - the user's file imports it

    if importlib.util.find_spec("pandas") is not None:
        # pyarrow imports pandas, when it is installed, the first time
        # pa.table() or Table.from_* runs (it checks for DataFrames):
        # in such an environment nearly every step pays for it.
        import pandas  # noqa: F401

    try:
        status = os.fdopen(status_fd, "wb", buffering=0)
    except OSError as exc:
        sys.stderr.write(f"tarn worker: status descriptor {status_fd}: {exc}\n")
        return EXIT_SPEC_ERROR
    status.write(b"R")
    line = sys.stdin.readline()
    if not line.strip():
        return EXIT_OK  # let go before it was given a step
    try:
        handoff = json.loads(line)
        spec_path, scratch = handoff["spec"], handoff["scratch"]
        secrets = handoff.get("secrets") or {}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        sys.stderr.write(f"tarn worker: unusable hand-off: {type(exc).__name__}: {exc}\n")
        return EXIT_SPEC_ERROR
    status.write(b"S")
    status.close()  # user code and its children must not hold it
    # As a cold worker: stdin is /dev/null, the scratch directory is the
    # working directory, HOME and TMPDIR.
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    try:
        os.chdir(scratch)
    except OSError as exc:
        sys.stderr.write(f"tarn worker: cannot enter the scratch directory {scratch}: {exc}\n")
        return EXIT_SPEC_ERROR
    os.environ["HOME"] = os.environ["TMPDIR"] = scratch
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = None  # chosen again from TMPDIR
    sys.argv[1:] = [spec_path]
    return main([spec_path], secrets)


def _write_result(result: Dict[str, Any], path: str) -> int:
    """Write the result JSON; return 0, or EXIT_SPEC_ERROR if it cannot be written."""
    result = {key: mask(value) for key, value in result.items()}
    result["proc_status"] = proc_status()
    try:
        _arrow.write_json(result, path)
    except OSError as exc:
        sys.stderr.write(f"tarn worker: cannot write the result {path}: {exc}\n")
        return EXIT_SPEC_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
