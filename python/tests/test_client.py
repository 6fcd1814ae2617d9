"""tarn.Client against a real `tarn serve` (the binary from TARN_BIN)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pytest

import tarn

TARN_BIN = os.environ.get("TARN_BIN") or shutil.which("tarn")
pytestmark = pytest.mark.skipif(not TARN_BIN, reason="needs the tarn binary (TARN_BIN)")


def _serve(home: Path, *args: str):
    proc = subprocess.Popen([TARN_BIN, "serve", "--addr", "127.0.0.1:0", *args], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TARN_HOME": str(home)})
    for line in proc.stderr:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            import threading

            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, m.group(1)
    raise RuntimeError("tarn serve did not start")


@pytest.fixture
def server(tmp_path):
    proc, url = _serve(tmp_path / "home", "--insecure-local")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def csv(tmp_path) -> Path:
    p = tmp_path / "trips.csv"
    p.write_text("id,miles\n1,2.5\n2,0.5\n3,7.0\n")
    return p


def test_tables_branches_and_queries(server, csv, tmp_path):
    lake = tarn.Client(endpoint=server)
    res = lake.create_table("trips", [str(csv)])
    assert res["added_rows"] == 3 and res["commit"]["message"] == "create table tarn.trips from trips.csv"
    lake.create_branch("dev")
    lake.import_data("trips", str(csv), branch="dev")
    assert lake.query("select count(*) as n from trips", ref="dev").to_pylist() == [{"n": 6}]
    table = lake.query("select id, miles from trips order by id")
    assert isinstance(table, pa.Table) and table.column("id").to_pylist() == [1, 2, 3]
    assert lake.scan("trips", columns=["id"], filter="miles > 1").column("id").to_pylist() == [1, 3]
    assert lake.query_to_pandas("select sum(miles) as m from trips")["m"][0] == 10.0
    merged = lake.merge_branch("dev", into="main", message="publish")
    assert merged["fast_forward"]
    assert [c["message"] for c in lake.get_commits("main", limit=2)][0].startswith("import into tarn.trips")
    assert {b["name"] for b in lake.list_branches()} == {"main", "dev"}
    assert lake.get_table("trips")["rows"] == 6
    lake.create_namespace("staging")
    assert [n["name"] for n in lake.list_namespaces()] == ["staging", "tarn"]
    assert [t["table"]["name"] for t in lake.list_tables()] == ["trips"]
    kinds = {j["kind"] for j in lake.list_jobs()}
    assert {"query", "import"} <= kinds


def test_errors(server, csv):
    lake = tarn.Client(endpoint=server)
    with pytest.raises(tarn.NotFoundError, match="nosuch"):
        lake.get_table("nosuch")
    with pytest.raises(tarn.NotFoundError):
        lake.query("select 1", ref="nosuch")
    with pytest.raises(tarn.InvalidError, match="syntax"):
        lake.query("selec 1")
    lake.create_branch("dev")
    with pytest.raises(tarn.ConflictError, match="already exists"):
        lake.create_branch("dev")
    with pytest.raises(tarn.InvalidError):
        lake.create_table("../x", [str(csv)])
    assert issubclass(tarn.ForbiddenError, tarn.TarnError)


def test_tokens(tmp_path, monkeypatch):
    monkeypatch.delenv("TARN_TOKEN", raising=False)
    monkeypatch.setenv("TARN_CONFIG", str(tmp_path / "none.yml"))
    home = tmp_path / "home"
    out = subprocess.run([TARN_BIN, "user", "add", "ann", "-o", "json"], env={**os.environ, "TARN_HOME": str(home)},
                         check=True, capture_output=True, text=True).stdout
    token = json.loads(out)["token"]
    proc, url = _serve(home)
    try:
        with pytest.raises(tarn.UnauthorizedError, match="needs a token"):
            tarn.Client(endpoint=url).list_branches()
        lake = tarn.Client(endpoint=url, token=token)
        assert lake.list_branches()[0]["name"] == "main"
        with pytest.raises(tarn.ForbiddenError, match="protected"):
            lake.create_namespace("x", branch="main")
        lake.create_branch("ann.dev")
        lake.create_namespace("x", branch="ann.dev")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_private_server_when_no_endpoint(tmp_path, monkeypatch):
    monkeypatch.delenv("TARN_ENDPOINT", raising=False)
    monkeypatch.setenv("TARN_CONFIG", str(tmp_path / "none.yml"))
    monkeypatch.setenv("TARN_BIN", TARN_BIN)
    with tarn.Client(home=str(tmp_path / "home")) as lake:
        assert lake.endpoint.startswith("http://127.0.0.1:")
        assert lake.query("select 42 as x").to_pylist() == [{"x": 42}]


def test_pack_respects_gitignore(tmp_path):
    from tarn._client import _pack
    import io
    import tarfile

    root = tmp_path / "p"
    for name in ["tarn_project.yml", "m.py", "data/big.csv", "x.log", "sub/data/y.py", ".git/HEAD", "build/o", "sub/build/keep"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    (root / ".gitignore").write_text("data/\n*.log\n/build\n")
    names = sorted(tarfile.open(fileobj=io.BytesIO(_pack(root))).getnames())
    assert names == [".gitignore", "m.py", "sub/build/keep", "tarn_project.yml"]


@pytest.mark.skipif(not shutil.which("uv"), reason="runs need uv to build the step's environment")
def test_run(server, tmp_path):
    project = tmp_path / "proj"
    (project / "models").mkdir(parents=True)
    (project / "tarn_project.yml").write_text('name: pyclient\ndefaults:\n  python: "3.11"\n  timeout: 120\nparameters:\n  n:\n    type: int\n    default: 1\n')
    (project / "models" / "m.py").write_text(
        "import tarn\nimport pyarrow as pa\n\n"
        "@tarn.model(materialization_strategy='REPLACE')\n"
        "def nums(n=tarn.Parameter('n')):\n    print('making', n, flush=True)\n    return pa.table({'a': list(range(int(n)))})\n"
    )
    lake = tarn.Client(endpoint=server)
    events = []
    state = lake.run(project, params={"n": 4}, on_event=events.append)
    assert state.ok and state["published"] and state.steps["nums"]["rows"] == 4
    assert any(e.get("message") == "making 4" for e in events)
    assert lake.query("select count(*) as c from nums").to_pylist() == [{"c": 4}]
    job = lake.run(project, params={"n": 2}, detach=True)
    assert lake.wait_job(job["job_id"])["state"] == "succeeded"
    assert any(e.get("kind") == "job" for e in lake.job_logs(job["job_id"]))
    (project / "models" / "m.py").write_text("import tarn\n\n@tarn.model()\ndef nums(:\n")
    with pytest.raises(tarn.InvalidError, match="m.py"):
        lake.run(project)
