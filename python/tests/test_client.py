"""tarn.Client against real servers: `tarn serve` started by the fixtures in conftest.py
(TARN_BIN must point at a built binary; the tests skip otherwise)."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

import tarn
from conftest import requires, write_files


@pytest.fixture(autouse=True)
def no_user_profile(monkeypatch, tmp_path):
    """The client must not find the endpoint, token or home of the person running the tests."""
    for name in ("TARN_ENDPOINT", "TARN_TOKEN", "TARN_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TARN_CONFIG", str(tmp_path / "no-profile.yml"))


@pytest.fixture(scope="module")
def client(tarn_server):
    with tarn.Client(tarn_server.endpoint) as c:
        yield c


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def quiet(event):
    pass


TRIPS = pa.table(
    {
        "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
        "zone": ["a", "b", "a", "c", "b"],
        "miles": [0.5, 2.0, 3.5, 1.0, 8.0],
    }
)


@pytest.fixture(scope="module")
def trips(client):
    """A table of five trips on main, created from a pyarrow Table."""
    name = unique("trips")
    result = client.create_table(name, TRIPS)
    assert result["added_rows"] == 5
    return name


# --- queries --------------------------------------------------------------------------


def test_query_returns_the_rows(client, trips):
    got = client.query(f"select id, zone, miles from {trips} order by id")
    assert isinstance(got, pa.Table)
    assert got.equals(TRIPS)
    assert client.last_query_info["columns"][0] == {"name": "id", "type": "BIGINT"}


def test_query_batches_streams_many_batches(client):
    batches = list(client.query_batches("select range as i from range(100000)"))
    assert len(batches) > 1, "a 100000-row result should arrive in several record batches"
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    assert sum(b.num_rows for b in batches) == 100000
    assert sum(pa.compute.sum(b.column(0)).as_py() for b in batches) == sum(range(100000))
    assert client.query("select range as i from range(100000)").num_rows == 100000


def test_query_with_5000_columns(client):
    columns = ", ".join(f"{i} as column_{i:04d}" for i in range(5000))
    got = client.query(f"select {columns}")
    assert got.num_columns == 5000 and got.column_names[-1] == "column_4999"
    assert len(client.last_query_info["columns"]) == 5000
    assert not got.schema.metadata, "the query's description stays out of the result"
    batches = list(client.query_batches(f"select {columns}"))
    assert batches[0].num_columns == 5000 and not batches[0].schema.metadata


@pytest.fixture(scope="module")
def small_server(tarn_bin, tmp_path_factory):
    """A server whose results may stream at most 1 MiB."""
    from conftest import ServeProcess, tarn_env

    tmp = tmp_path_factory.mktemp("small")
    server = ServeProcess(tarn_bin, tmp / "home", insecure=True, env=tarn_env(tmp), extra=["--max-result", "1MiB"])
    yield server
    server.stop()


def test_query_over_the_result_limit_raises_its_error(small_server):
    with tarn.Client(small_server.endpoint) as c:
        for read in (c.query, lambda sql: list(c.query_batches(sql))):
            with pytest.raises(tarn.InvalidError, match=r"limit of 1\.0 MiB \(tarn serve --max-result\)"):
                read("select range from range(10000000)")
        assert c.query("select 1 as one").num_rows == 1


@requires("pandas")
def test_query_to_pandas(client, trips):
    df = client.query_to_pandas(f"select zone, sum(miles) as miles from {trips} group by zone order by zone")
    assert list(df["zone"]) == ["a", "b", "c"]
    assert list(df["miles"]) == [4.0, 10.0, 1.0]


def test_scan_with_columns_and_filter(client, trips):
    got = client.scan(trips, columns=["id", "miles"], filter="miles > 1 AND zone IN ('a', 'b')")
    assert got.column_names == ["id", "miles"]
    assert got.sort_by("id").to_pydict() == {"id": [2, 3, 5], "miles": [2.0, 3.5, 8.0]}
    assert client.scan("tarn." + trips).num_rows == 5


def test_scan_rejects_a_filter_that_is_not_a_predicate(client, trips):
    with pytest.raises(tarn.FilterError):
        client.scan(trips, filter="1 = 1; drop table x")
    with pytest.raises(tarn.FilterError):
        client.scan(trips, filter="id in (select id from other)")
    with pytest.raises(tarn.InvalidError, match="NAME or NAMESPACE.NAME"):
        client.scan("a.b.c")


def test_scan_quotes_identifiers(client):
    name = unique("odd")
    client.create_table(name, pa.table({"select": [1, 2], "from": ["x", "y"]}))  # reserved words
    got = client.scan(name, columns=["from"], filter='"select" = 2')
    assert got.to_pydict() == {"from": ["y"]}


# --- tables ---------------------------------------------------------------------------


def test_create_table_from_csv_path_and_get_table(client, tmp_path):
    csv = tmp_path / "zones.csv"
    csv.write_text("zone,name\na,Airport\nb,Beach\n")
    name = unique("zones")
    result = client.create_table(name, str(csv))
    assert result["added_rows"] == 2 and result["table"] == {"namespace": "tarn", "name": name}
    info = client.get_table(name)
    assert [c["name"] for c in info["schema"]] == ["zone", "name"]
    assert info["rows"] == 2
    assert client.query(f"select name from {name} order by zone").column("name").to_pylist() == ["Airport", "Beach"]
    assert name in [t["table"]["name"] for t in client.list_tables(namespace="tarn")]


def test_import_data_appends(client, tmp_path):
    name = unique("events")
    client.create_table(name, pa.table({"n": [1, 2]}))
    pd = pytest.importorskip("pandas")
    result = client.import_data(name, pd.DataFrame({"n": [3, 4, 5]}))
    assert result["added_rows"] == 3
    (tmp_path / "more.jsonl").write_text('{"n": 6}\n')
    assert client.import_data(name, tmp_path / "more.jsonl")["added_rows"] == 1
    assert client.query(f"select sum(n) as s from {name}").column("s").to_pylist() == [21]


@requires("polars")
def test_create_table_from_polars(client):
    import polars as pl

    name = unique("pl")
    client.create_table(name, pl.DataFrame({"x": [1.5, 2.5]}))
    assert client.scan(name).column("x").to_pylist() == [1.5, 2.5]
    assert client.query_to_polars(f"select x from {name} order by x")["x"].to_list() == [1.5, 2.5]


def test_create_table_rejects_what_it_cannot_upload(client):
    with pytest.raises(tarn.InvalidError, match="cannot upload a dict"):
        client.create_table(unique("bad"), {"x": [1]})
    with pytest.raises(tarn.InvalidError, match="no such file"):
        client.create_table(unique("bad"), "/nonexistent/file.csv")


def test_namespaces_drop_and_revert(client):
    ns = unique("ns")
    client.create_namespace(ns)
    assert ns in [n["name"] for n in client.list_namespaces()]
    table = f"{ns}.t"
    client.create_table(table, pa.table({"v": [1]}))
    before = client.resolve()["hash"]
    client.import_data(table, pa.table({"v": [2]}))
    client.revert_table(table, to=before)
    assert client.scan(table).column("v").to_pylist() == [1]
    client.drop_table(table)
    with pytest.raises(tarn.NotFoundError):
        client.get_table(table)


# --- branches and commits ------------------------------------------------------------


def test_branch_create_write_merge(client):
    branch = unique("dev")
    ref = client.create_branch(branch)
    assert ref["name"] == branch and ref["commit"] == client.resolve("main")["hash"]
    assert branch in [b["name"] for b in client.list_branches()]
    table = unique("feature")
    client.create_table(table, pa.table({"x": [1, 2]}), branch=branch)
    assert table not in [t["table"]["name"] for t in client.list_tables()]
    assert [c["key"] for c in client.diff("main", branch)] == [f"tarn.{table}"]
    merged = client.merge_branch(branch, into="main")
    assert merged["fast_forward"] is True
    assert client.scan(table).num_rows == 2
    client.delete_branch(branch)
    assert branch not in [b["name"] for b in client.list_branches()]


def test_get_commits(client):
    name = unique("logged")
    client.create_table(name, pa.table({"x": [1]}), message=f"add {name}")
    commits = client.get_commits(limit=3)
    assert len(commits) == 3
    assert commits[0]["message"] == f"add {name}" and commits[0]["author"] == "local"
    assert commits[1]["hash"] in commits[0]["parents"]


def test_tags(client):
    tag = unique("v")
    client.create_tag(tag)
    assert tag in [t["name"] for t in client.list_tags()]
    assert client.get_ref(tag)["kind"] == "tag"
    client.delete_tag(tag)


# --- errors ----------------------------------------------------------------------------


def test_errors_map_to_classes(client, trips):
    with pytest.raises(tarn.NotFoundError, match="not found") as e:
        client.query("select * from no_such_table")
    assert e.value.code == "not_found" and e.value.status == 404
    with pytest.raises(tarn.NotFoundError):
        client.get_table("no_such_table")
    with pytest.raises(tarn.InvalidError, match="syntax error"):
        client.query("selec 1")
    branch = unique("twice")
    client.create_branch(branch)
    with pytest.raises(tarn.ConflictError, match="already exists"):
        client.create_branch(branch)
    with pytest.raises(tarn.ConflictError) as e:
        client.create_table(trips, TRIPS)
    assert e.value.code == "exists"
    with pytest.raises(tarn.NotFoundError):
        client.get_job("j20200101-000000-000000")


SLOW_SQL = "select sum(range * 2) as s from range(20000000000)"


def cancel_running_query(client):
    """Cancel the newest job once it is a running query; return it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.list_jobs()[0]
        if job["kind"] == "query" and job["state"] == "running":
            return client.cancel_job(job["id"])
        time.sleep(0.02)
    pytest.fail("no running query to cancel")


def test_cancelled_query_raises_cancelled_error(client):
    import threading

    raised = []

    def run():
        try:
            client.query(SLOW_SQL)
        except tarn.TarnError as e:
            raised.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    job = cancel_running_query(client)
    thread.join(30)
    assert job["state"] == "cancelled" and job["error"]["code"] == "cancelled"
    assert len(raised) == 1 and isinstance(raised[0], tarn.CancelledError), raised
    assert raised[0].code == "cancelled" and raised[0].status == 409


def test_unreachable_server_names_the_endpoint():
    with pytest.raises(tarn.TarnError, match=r"cannot reach the tarn server at http://127\.0\.0\.1:9"):
        tarn.Client("http://127.0.0.1:9").list_branches()
    with pytest.raises(tarn.InvalidError, match="invalid endpoint"):
        tarn.Client("localhost:8181")


# --- access ----------------------------------------------------------------------------


def test_no_token_is_unauthorized(tarn_auth_server):
    with pytest.raises(tarn.UnauthorizedError, match="needs a token"):
        tarn.Client(tarn_auth_server.endpoint).list_branches()
    with pytest.raises(tarn.UnauthorizedError):
        tarn.Client(tarn_auth_server.endpoint, token="tarn_wrong").list_branches()


def test_users_write_their_branches_and_merge_into_main(tarn_auth_server):
    alice = tarn.Client(tarn_auth_server.endpoint, token=tarn_auth_server.tokens["alice"])
    assert alice.whoami()["name"] == "alice"
    with pytest.raises(tarn.ForbiddenError, match="protected"):
        alice.create_table("direct", pa.table({"x": [1]}))
    with pytest.raises(tarn.ForbiddenError, match="alice"):
        alice.create_branch("bob.dev")
    alice.create_branch("alice.dev")
    alice.create_table("from_alice", pa.table({"x": [1]}), branch="alice.dev")
    alice.merge_branch("alice.dev", into="main")
    assert alice.scan("from_alice").num_rows == 1
    assert alice.get_commits(limit=1)[0]["author"] == "alice"


def test_profile_file_gives_endpoint_and_token(tarn_auth_server, tmp_path, monkeypatch):
    profile = tmp_path / "config.yml"
    profile.write_text(f"endpoint: {tarn_auth_server.endpoint}\ntoken: {tarn_auth_server.tokens['admin']}\n")
    monkeypatch.setenv("TARN_CONFIG", str(profile))
    c = tarn.Client()
    assert c.mode == "remote" and c.endpoint == tarn_auth_server.endpoint
    assert c.whoami() == {**c.whoami(), "name": "admin", "admin": True}
    monkeypatch.setenv("TARN_TOKEN", tarn_auth_server.tokens["alice"])  # the environment wins over the profile
    assert tarn.Client().whoami()["name"] == "alice"


# --- runs and jobs ---------------------------------------------------------------------


@pytest.fixture
def sql_project(tmp_path, trips):
    """A project with one SQL model over the trips table; its output table name is unique."""
    out = unique("long_trips")
    root = write_files(
        tmp_path / "project",
        {
            "tarn_project.yml": "name: mini\n",
            f"models/{out}.sql": f"-- tarn: materialization_strategy=REPLACE\nselect id, miles from {trips} where miles > 1\n",
            ".gitignore": "data/\n",
            "data/big.csv": "x\n" * 10,
        },
    )
    return root, out


def test_run_publishes_and_reports_steps(client, sql_project):
    project, out = sql_project
    events = []
    result = client.run(project, on_event=events.append)
    assert isinstance(result, tarn.RunResult)
    assert result.ok and result.published and not result.dry_run
    step = result.step(out)
    assert (step.kind, step.state, step.rows, step.table) == ("sql", "done", 3, f"tarn.{out}")
    assert step.duration > 0
    assert [e["state"] for e in events if e["kind"] == "step"] == ["queued", "running", "done"]
    assert client.scan(out).sort_by("id").column("id").to_pylist() == [2, 3, 5]
    assert client.get_commits(limit=1)[0]["hash"] == result.commit["hash"]

    again = client.run(project, on_event=quiet)
    assert again.step(out).state == "cached" and again.step(out).cached

    jobs = client.list_jobs()
    assert jobs[0]["id"] == again.job_id and jobs[0]["kind"] == "run" and jobs[0]["state"] == "succeeded"
    assert client.get_job(result.job_id)["result"]["run_id"] == result.run_id
    lines = list(client.job_logs(result.job_id))
    assert f"▶ {out} running" in lines and any(line.startswith(f"✓ {out} done: 3 rows") for line in lines)
    assert lines[-1] == f"job {result.job_id} succeeded"


def test_run_python_model_streams_user_logs(client, trips, tmp_path):
    out = unique("scored")
    project = write_files(
        tmp_path / "pyproject",
        {
            "tarn_project.yml": "name: scoring\n",
            "models/score.py": f"""
                import tarn

                @tarn.model(materialization_strategy="REPLACE")
                def {out}(trips=tarn.Model("{trips}", columns=["id", "miles"], filter="miles >= 2")):
                    print(f"scoring {{trips.num_rows}} trips")
                    return trips.append_column("score", trips.column("miles"))

                @tarn.expectation()
                def {out}_not_empty(scored=tarn.Model("{out}")):
                    return scored.num_rows > 0
            """,
        },
    )
    events = []
    result = client.run(project, no_cache=True, on_event=events.append)
    assert (result.step(out).kind, result.step(out).state, result.step(out).rows) == ("python", "done", 3)
    assert result.step(f"{out}_not_empty").kind == "expectation"
    assert {"kind": "log", "step": out, "message": "scoring 3 trips"}.items() <= next(
        e for e in events if e["kind"] == "log"
    ).items()
    assert sorted(client.scan(out, columns=["score"]).column("score").to_pylist()) == [2.0, 3.5, 8.0]


def test_run_default_printer(client, sql_project, capsys):
    project, out = sql_project
    client.run(project, no_cache=True)
    err = capsys.readouterr().err
    assert f"▶ {out} running" in err and f"✓ {out} done: 3 rows" in err


def test_dry_run_materializes_nothing(client, sql_project):
    project, out = sql_project
    result = client.run(project, dry_run=True, no_cache=True, on_event=quiet)
    assert result.ok and result.dry_run and not result.published
    assert result.step(out).state == "done" and result.step(out).rows == 3
    with pytest.raises(tarn.NotFoundError):
        client.get_table(out)


def test_failed_run_raises_with_the_result(client, tmp_path):
    project = write_files(
        tmp_path / "bad",
        {"tarn_project.yml": "name: bad\n", "models/oops.sql": "-- tarn: materialization_strategy=REPLACE\nselect nope from range(3)\n"},
    )
    with pytest.raises(tarn.TarnError, match="oops") as e:
        client.run(project, on_event=quiet)
    result = e.value.result
    assert not result.ok and not result.published and result.run_branch
    assert result.step("oops").state == "failed" and "nope" in result.step("oops").error
    assert client.run(project, on_event=quiet, check=False).state == "failed"


def test_detached_run_follow_logs_and_cancel(client, sql_project):
    project, out = sql_project
    job = client.submit_run(project, no_cache=True)
    assert job["kind"] == "run" and job["state"] in ("queued", "running")
    lines = list(client.job_logs(job["id"], follow=True))
    assert lines[-1] == f"job {job['id']} succeeded"
    assert client.get_job(job["id"])["state"] == "succeeded"
    with pytest.raises(tarn.ConflictError, match="already ended"):
        client.cancel_job(job["id"])


def test_ctrl_c_during_a_run_cancels_its_job(client, sql_project):
    project, out = sql_project

    def interrupt(event):
        if event["kind"] == "start":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        client.run(project, no_cache=True, on_event=interrupt)
    job = client.list_jobs()[0]
    deadline = time.monotonic() + 30
    while job["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get_job(job["id"])
    assert job["kind"] == "run" and job["state"] == "cancelled"
    with pytest.raises(tarn.NotFoundError):
        client.get_table(out)


def test_project_missing(client, tmp_path):
    with pytest.raises(tarn.InvalidError, match="not found"):
        client.run(tmp_path / "nothing-here", on_event=quiet)


# --- packing (no server) ---------------------------------------------------------------


def test_pack_honours_gitignore(tmp_path):
    import io
    import tarfile

    from tarn._client_pack import pack

    files = {
        ".gitignore": "# data stays home\ndata/\n*.log\n/build\nnotes/**/secret.txt\n!keep.log\n",
        "tarn_project.yml": "name: p\n",
        "models/a.py": "x",
        "models/data/b.py": "x",
        "data/big.csv": "x",
        "run.log": "x",
        "models/run.log": "x",
        "build/out.txt": "x",
        "models/build/keep.txt": "x",
        "notes/a/b/secret.txt": "x",
        "notes/readme.md": "x",
        ".git/config": "x",
        ".venv/bin/python": "x",
        "models/__pycache__/a.c": "x",
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    os.symlink(tmp_path / "notes/readme.md", tmp_path / "link.md")
    buf = io.BytesIO()
    pack(str(tmp_path), buf)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue()), mode="r:gz") as tar:
        got = sorted(m.name for m in tar.getmembers() if m.isfile())
    assert got == [".gitignore", "models/a.py", "models/build/keep.txt", "notes/readme.md", "tarn_project.yml"]


def test_pack_limit(tmp_path):
    import io

    from tarn._client_pack import pack

    (tmp_path / "blob.bin").write_bytes(os.urandom(256 << 10))
    with pytest.raises(tarn.InvalidError, match=r"larger than 64\.0 KiB.*\.gitignore"):
        pack(str(tmp_path), io.BytesIO(), 64 << 10)


# --- embedded mode ---------------------------------------------------------------------


def test_embedded_mode_starts_and_stops_a_private_server(tarn_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("TARN_BIN", tarn_bin)
    home = tmp_path / "home"
    with tarn.Client(home=home) as c:
        assert c.mode == "embedded" and c.endpoint.startswith("http://127.0.0.1:")
        pid = c.server_pid
        c.create_table("local_t", pa.table({"x": [1, 2, 3]}))
        assert c.query("select sum(x) as s from local_t").column("s").to_pylist() == [6]
        # No limits of a shared server: DuckDB's own settings, as `tarn query` has them.
        settings = c.query("select current_setting('threads') as t, current_setting('max_temp_directory_size') as d")
        if (os.cpu_count() or 1) > 1:
            assert [str(v) for v in settings.column("t").to_pylist()] == [str(os.cpu_count())]
        assert settings.column("d").to_pylist() != ["4.0 GiB"]
    assert (home / "warehouse").is_dir(), "the embedded server should keep its lakehouse in the given home"
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), f"the embedded server (pid {pid}) still runs after close()"
    with pytest.raises(tarn.TarnError, match="cannot reach"):
        c.list_branches()
    # the data stays in the home: a new embedded client sees it
    with tarn.Client(home=home) as again:
        assert again.scan("local_t").num_rows == 3


def test_embedded_mode_without_a_binary_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("TARN_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(tarn.TarnError, match="no tarn server configured.*TARN_BIN"):
        tarn.Client(home=tmp_path / "home")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of this process is gone for our purpose
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def test_embedded_server_stops_at_interpreter_exit(tarn_bin, tmp_path):
    import subprocess
    import sys

    from conftest import sdk_env

    script = (
        "import tarn, sys\n"
        f"c = tarn.Client(home={str(tmp_path / 'home')!r})\n"
        "print(c.server_pid, flush=True)\n"
    )
    env = sdk_env(TARN_BIN=tarn_bin, TARN_CONFIG=str(tmp_path / "none.yml"))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    pid = int(proc.stdout.strip())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"the embedded server (pid {pid}) outlived its interpreter")


def test_importing_tarn_does_not_load_the_client():
    import subprocess
    import sys

    from conftest import sdk_env

    code = "import sys, tarn; print('tarn._client' in sys.modules, 'http.client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=sdk_env(), timeout=60).stdout
    assert out.split() == ["False", "False"]
    assert Path(tarn.__file__).parent.joinpath("_client.py").exists()


# --- a query error after the rows started, in an X-Tarn-Error trailer ----------------------
# (tarn serve breaks the stream off instead and the client reads the job's error:
# test_query_over_the_result_limit_raises_its_error)


def test_late_query_error_in_the_trailer_is_raised(tmp_path):
    """A tiny stand-in server sends status 200, an Arrow stream, and the error in an
    X-Tarn-Error trailer; the client raises it after the rows."""
    import base64
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, pa.schema([("i", pa.int64())])) as writer:
        writer.write_table(pa.table({"i": list(range(10))}))
    stream = sink.getvalue().to_pybytes()
    late = {"error": {"code": "invalid", "message": "Conversion Error: row 11 is not a number"}}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.apache.arrow.stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Tarn-Error")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n" % (len(stream), stream))
            self.wfile.write(b"X-Tarn-Error: " + base64.b64encode(json.dumps(late).encode()) + b"\r\n\r\n")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = tarn.Client(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(tarn.InvalidError, match="row 11 is not a number"):
            client.query("select i")
        rows = []
        with pytest.raises(tarn.InvalidError):
            for batch in client.query_batches("select i"):
                rows += batch.column(0).to_pylist()
        assert rows == list(range(10)), "the rows before the error still arrive"
    finally:
        server.shutdown()
