"""Shared helpers: temporary projects, Arrow IPC files, and running the SDK's
command-line modules (discovery, worker) in subprocesses as the Go side does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import pyarrow as pa
import pytest

SDK_DIR = Path(__file__).resolve().parent.parent
TESTDATA = SDK_DIR.parent / "testdata"  # vectors shared with the Go tests


def vectors(name: str) -> Any:
    """A JSON file of shared test vectors under the repository's testdata/."""
    return json.loads((TESTDATA / name).read_text(encoding="utf-8"))


def sdk_env(**extra: str) -> Dict[str, str]:
    """The environment the Go runtime gives a step: PYTHONPATH at the SDK, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONPATH=str(SDK_DIR), PYTHONUNBUFFERED="1", **extra)
    return env


def write_files(root: Path, files: Dict[str, str]) -> Path:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"))
    return root


def write_arrow(path: Path, table: pa.Table) -> str:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return str(path)


def read_arrow(path: str) -> pa.Table:
    with pa.memory_map(path, "r") as source:
        return pa.ipc.open_file(source).read_all()


def run_discover(project: Path, python: Optional[str] = None) -> Dict[str, Any]:
    proc = subprocess.run(
        [python or sys.executable, "-m", "tarn._discover", str(project)],
        capture_output=True,
        text=True,
        env=sdk_env(),
        cwd=str(project),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


class WorkerRun:
    """One finished worker process: exit status, output streams, result JSON and output table."""

    def __init__(self, proc: subprocess.CompletedProcess, spec: Dict[str, Any]) -> None:
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.spec = spec
        result_path = spec.get("result")
        self.result = json.loads(Path(result_path).read_text()) if result_path and Path(result_path).exists() else None

    @property
    def table(self) -> pa.Table:
        return read_arrow(self.spec["output"])

    def __repr__(self) -> str:
        return f"WorkerRun(rc={self.returncode}, result={self.result}, stderr={self.stderr[-2000:]!r})"


@pytest.fixture
def project(tmp_path: Path):
    """A function writing files into a fresh project directory and returning it."""
    root = tmp_path / "project"
    root.mkdir()
    return lambda files: write_files(root, files)


@pytest.fixture
def worker(tmp_path: Path):
    """Run ``python -m tarn._worker spec.json`` in a scratch directory, like the Go runtime."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    def run(spec: Dict[str, Any], inputs: Optional[Dict[str, Any]] = None, stdin: Optional[str] = None) -> WorkerRun:
        spec = dict(spec)
        spec.setdefault("result", str(run_dir / "result.json"))
        if spec.get("kind", "model") != "expectation":
            spec.setdefault("output", str(run_dir / "output.arrow"))
        spec.setdefault("kind", "model")
        spec.setdefault("parameters", {})
        spec.setdefault("memory_limit_bytes", 0)
        spec["inputs"] = {}
        for key, value in (inputs or {}).items():
            entry = value if isinstance(value, dict) else {"table": value}
            if "parquet" in entry:  # a lake input: planned Parquet files, read by the worker itself
                spec["inputs"][key] = lake_entry(run_dir / f"input-{len(spec['inputs'])}", entry)
                continue
            path = run_dir / f"input-{len(spec['inputs'])}.arrow"
            write_arrow(path, entry["table"])
            spec["inputs"][key] = {"path": str(path), "columns": entry.get("columns"), "filter": entry.get("filter")}
            if entry.get("batches"):
                spec["inputs"][key]["batches"] = True
        for stale in (spec["result"], spec.get("output")):
            if stale and os.path.exists(stale):
                os.unlink(stale)
        spec_path = run_dir / "spec.json"
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.run(
            [sys.executable, "-m", "tarn._worker", str(spec_path)],
            capture_output=True,
            text=True,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            env=sdk_env(),
            cwd=str(scratch),
            timeout=120,
        )
        return WorkerRun(proc, spec)

    return run


def lake_entry(prefix: Path, entry: Dict[str, Any]) -> Dict[str, Any]:
    """A lake input's spec entry as tarn plans it: each table of ``entry["parquet"]`` written as
    one Parquet file (``row_group_size`` rows per group), the schema as an IPC message, columns,
    filter, estimated size (``estimated_bytes``, else the tables' Arrow size)."""
    import base64

    import pyarrow.parquet as pq

    files = []
    for i, table in enumerate(entry["parquet"]):
        path = f"{prefix}-{i}.parquet"
        pq.write_table(table, path, row_group_size=entry.get("row_group_size", 2))
        files.append(path)
    schema = entry.get("schema") or entry["parquet"][0].schema
    out = {
        "files": files,
        "schema": base64.b64encode(schema.serialize().to_pybytes()).decode(),
        "columns": entry.get("columns"),
        "filter": entry.get("filter"),
        "estimated_bytes": entry.get("estimated_bytes", sum(t.nbytes for t in entry["parquet"])),
    }
    if entry.get("batches"):
        out["batches"] = True
    return out


def has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def requires(name: str):
    return pytest.mark.skipif(not has_module(name), reason=f"{name} is not installed")


# --- tarn servers for the client tests ------------------------------------------------


class ServeProcess:
    """A ``tarn serve`` started by a test over its own home, on a free loopback port."""

    def __init__(self, binary: str, home: Path, insecure: bool, env: Dict[str, str], extra: Sequence[str] = ()) -> None:
        from tarn._client_http import wait_ready_file

        self.home = home
        self.log_path = home.parent / (home.name + "-serve.log")
        ready = home.parent / (home.name + "-ready.json")
        self._log = open(self.log_path, "w")
        args = [binary, "serve", "--addr", "127.0.0.1:0", "--home", str(home), "--grace", "5s", "--ready-file", str(ready), *extra]
        if insecure:
            args.append("--insecure-local")
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, env=env)
        self.endpoint = wait_ready_file(str(ready), 60, self.process) or ""
        if not self.endpoint:
            self.stop()
            pytest.fail(f"tarn serve did not start: {self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def tarn_env(tmp: Path) -> Dict[str, str]:
    """An environment where the tarn binary sees no server and no profile of the person running the tests."""
    env = {k: v for k, v in os.environ.items() if k not in ("TARN_ENDPOINT", "TARN_TOKEN", "TARN_HOME")}
    env["TARN_CONFIG"] = str(tmp / "no-profile.yml")
    return env


@pytest.fixture(scope="session")
def tarn_bin() -> str:
    """The tarn binary from TARN_BIN (scripts/test.sh sets it after scripts/build.sh)."""
    path = os.environ.get("TARN_BIN")
    if not path:
        pytest.skip("TARN_BIN is not set: build with scripts/build.sh and set TARN_BIN=$PWD/bin/tarn to run the client tests")
    if not os.access(path, os.X_OK):
        pytest.fail(f"TARN_BIN={path} is not an executable file")
    return path


@pytest.fixture(scope="session")
def tarn_server(tarn_bin: str, tmp_path_factory):
    """A ``tarn serve --insecure-local`` over a fresh home for the session (no tokens: everyone is an admin)."""
    tmp = tmp_path_factory.mktemp("serve")
    server = ServeProcess(tarn_bin, tmp / "home", insecure=True, env=tarn_env(tmp))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tarn_auth_server(tarn_bin: str, tmp_path_factory):
    """A ``tarn serve`` that needs tokens; ``.tokens`` holds those of ``admin`` (an admin) and ``alice``."""
    tmp = tmp_path_factory.mktemp("serve-auth")
    home, env = tmp / "home", tarn_env(tmp)
    tokens = {}
    for name, admin in (("admin", True), ("alice", False)):
        args = [tarn_bin, "user", "add", name, "--home", str(home), "-o", "json"] + (["--admin"] if admin else [])
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        tokens[name] = json.loads(proc.stdout)["token"]
    server = ServeProcess(tarn_bin, home, insecure=False, env=env)
    server.tokens = tokens
    yield server
    server.stop()
