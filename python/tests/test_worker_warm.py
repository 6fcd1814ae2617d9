"""The warm worker: ``python -m tarn._worker --warm FD`` started ahead of need, handed one step on stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import read_arrow, sdk_env, write_arrow, write_files
from test_worker import TRIPS

MODELS = """
import os
import sys

import tarn

@tarn.model
def where(trips=tarn.Model("taxi_trips"), factor=tarn.Parameter("factor", default=1)):
    print("stdin", repr(sys.stdin.read()))
    with open("note.txt", "w") as note:
        note.write("x")
    return {
        "cwd": [os.getcwd()],
        "home": [os.environ["HOME"]],
        "tmpdir": [os.environ["TMPDIR"]],
        "rows": [trips.num_rows * factor],
        "argv": [" ".join(sys.argv[1:])],
    }

@tarn.model
def imported():
    return {"pandas": ["pandas" in sys.modules]}

@tarn.model
def fails():
    raise KeyError("zone")
"""


class Warm:
    """A started warm worker: its process and the read end of its status pipe."""

    def __init__(self, tmp_path: Path) -> None:
        read_fd, write_fd = os.pipe()
        self.status = os.fdopen(read_fd, "rb", buffering=0)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tarn._worker", "--warm", str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=sdk_env(HOME=str(tmp_path), TMPDIR=str(tmp_path)),
            cwd=str(tmp_path),
            pass_fds=(write_fd,),
        )
        os.close(write_fd)

    def hand_off(self, line: str):
        """Wait until ready, send ``line``; return (status bytes, exit code, stdout, stderr)."""
        assert self.status.read(1) == b"R"
        stdout, stderr = self.proc.communicate(line, timeout=120)
        return self.status.read(), self.proc.returncode, stdout, stderr


def handoff(spec: Path, scratch: Path) -> str:
    return json.dumps({"spec": str(spec), "scratch": str(scratch)}) + "\n"


@pytest.fixture
def setup(tmp_path: Path):
    root = write_files(tmp_path / "project", {"models.py": MODELS})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    scratch = tmp_path / "scratch" / "step"
    scratch.mkdir(parents=True)

    def spec_file(function: str, **extra) -> Path:
        spec = {
            "kind": "model",
            "project_dir": str(root),
            "file": "models.py",
            "function": function,
            "name": function,
            "inputs": {"trips": {"path": write_arrow(run_dir / "trips.arrow", TRIPS), "columns": None, "filter": None}},
            "parameters": {},
            "output": str(run_dir / "out.arrow"),
            "result": str(run_dir / "result.json"),
            "memory_limit_bytes": 0,
        }
        spec.update(extra)
        path = run_dir / f"{function}.spec.json"
        path.write_text(json.dumps(spec))
        return path

    return tmp_path, spec_file, scratch, run_dir


def test_warm_worker_runs_the_step_in_its_scratch_directory(setup):
    tmp_path, spec_file, scratch, run_dir = setup
    spec = spec_file("where", parameters={"factor": 2})
    status, code, stdout, stderr = Warm(tmp_path).hand_off(handoff(spec, scratch))
    assert code == 0, stderr
    assert status == b"S"  # took the step, then closed the descriptor
    assert "stdin ''" in stdout  # stdin is /dev/null for the user, as in a cold worker
    out = read_arrow(str(run_dir / "out.arrow")).to_pydict()
    here = [str(scratch)]
    assert out == {"cwd": here, "home": here, "tmpdir": here, "rows": [8], "argv": [str(spec)]}
    assert (scratch / "note.txt").exists()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["ok"] is True and result["rows"] == 1


def test_warm_worker_reports_user_errors_like_a_cold_one(setup):
    tmp_path, spec_file, scratch, run_dir = setup
    spec = spec_file("fails")
    _, code, _, _ = Warm(tmp_path).hand_off(handoff(spec, scratch))
    warm = json.loads((run_dir / "result.json").read_text())
    (run_dir / "result.json").unlink()
    cold = subprocess.run(
        [sys.executable, "-m", "tarn._worker", str(spec)], env=sdk_env(), cwd=str(scratch), capture_output=True
    )
    assert code == cold.returncode == 1
    cold_result = json.loads((run_dir / "result.json").read_text())
    for key in ("ok", "error_type", "message", "user_file", "user_line"):
        assert warm.get(key) == cold_result.get(key), key


def test_warm_worker_let_go_exits_quietly(setup):
    tmp_path = setup[0]
    status, code, stdout, stderr = Warm(tmp_path).hand_off("")
    assert (status, code, stdout, stderr) == (b"", 0, "", "")


@pytest.mark.parametrize("line", ["not json\n", '{"spec": "x"}\n', "[1]\n"])
def test_warm_worker_refuses_an_unusable_hand_off(setup, line):
    tmp_path = setup[0]
    status, code, _, stderr = Warm(tmp_path).hand_off(line)
    assert code == 2 and status == b""  # never said it took a step: the runtime starts it cold
    assert "unusable hand-off" in stderr


def test_warm_worker_usage(setup):
    tmp_path = setup[0]
    argv = [sys.executable, "-m", "tarn._worker", "--warm"]
    proc = subprocess.run(argv, env=sdk_env(), cwd=str(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 2 and "--warm STATUS_FD" in proc.stderr


def test_warm_worker_has_pandas_imported_when_the_environment_has_it(setup):
    pytest.importorskip("pandas")
    tmp_path, spec_file, scratch, run_dir = setup
    _, code, _, stderr = Warm(tmp_path).hand_off(handoff(spec_file("imported", inputs={}), scratch))
    assert code == 0, stderr
    assert read_arrow(str(run_dir / "out.arrow")).to_pydict() == {"pandas": [True]}
