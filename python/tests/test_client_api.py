"""tarn.Client's spellings against a real `tarn serve` (conftest.py starts it from TARN_BIN):
has_*/get_*, renames, if_exists/if_not_exists, table plans, query result files, BRANCH@HASH
refs, and the exception of each common error."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tarn


@pytest.fixture(autouse=True)
def no_user_profile(monkeypatch, tmp_path):
    for name in ("TARN_ENDPOINT", "TARN_TOKEN", "TARN_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TARN_CONFIG", str(tmp_path / "no-profile.yml"))


@pytest.fixture(scope="module")
def client(tarn_server):
    with tarn.Client(tarn_server.endpoint) as c:
        yield c


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


# --- branches and tags ---------------------------------------------------------------


def test_branches(client):
    name = unique("dev")
    assert not client.has_branch(name)
    branch = client.create_branch(name)
    assert isinstance(branch, tarn.Branch) and branch.name == name and branch.commit == client.resolve().hash
    assert client.has_branch(name) and client.get_branch(name) == branch
    assert name in [b.name for b in client.get_branches()] and client.get_branches() == client.list_branches()
    with pytest.raises(tarn.BranchExistsError, match="already exists") as e:
        client.create_branch(name)
    assert isinstance(e.value, tarn.ConflictError) and e.value.code == "exists" and e.value.resource == "branch"
    # if_not_exists: the existing branch, wherever it points.
    client.create_table(unique("on_dev"), pa.table({"x": [1]}), branch=name)
    moved = client.get_branch(name)
    assert moved.commit != branch.commit
    assert client.create_branch(name, from_ref="main", if_not_exists=True) == moved
    renamed = client.rename_branch(name, name + "_x")
    assert isinstance(renamed, tarn.Branch) and renamed.commit == moved.commit and not client.has_branch(name)
    with pytest.raises(tarn.BranchNotFoundError):
        client.rename_branch(name, name + "_y")
    with pytest.raises(tarn.BranchExistsError):
        client.rename_branch(name + "_x", "main")
    client.delete_branch(name + "_x")
    with pytest.raises(tarn.BranchNotFoundError) as e:
        client.delete_branch(name + "_x")
    assert isinstance(e.value, tarn.RefNotFoundError) and isinstance(e.value, tarn.NotFoundError) and e.value.status == 404
    client.delete_branch(name + "_x", if_exists=True)
    with pytest.raises(tarn.BranchNotFoundError, match="not found"):
        client.get_branch(name)
    with pytest.raises(tarn.InvalidError):
        client.has_branch("bad name")


def test_tags(client):
    name = unique("v")
    assert not client.has_tag(name)
    tag = client.create_tag(name)
    assert isinstance(tag, tarn.Tag) and tag.kind == "tag" and tag["commit"] == client.resolve().hash
    assert client.has_tag(name) and not client.has_branch(name) and client.get_tag(name) == tag
    assert isinstance(client.get_ref(name), tarn.Tag) and isinstance(client.get_ref("main"), tarn.Branch)
    with pytest.raises(tarn.TagExistsError):
        client.create_tag(name)
    assert client.create_tag(name, if_not_exists=True) == tag
    # A name taken by the other kind is not "already there".
    with pytest.raises(tarn.TagExistsError):
        client.create_branch(name, if_not_exists=True)
    with pytest.raises(tarn.BranchNotFoundError, match="is a tag, not a branch"):
        client.get_branch(name)
    with pytest.raises(tarn.TagNotFoundError, match="is a branch, not a tag"):
        client.get_tag("main")
    renamed = client.rename_tag(name, name + "_r")
    assert isinstance(renamed, tarn.Tag) and renamed.commit == tag.commit and not client.has_tag(name)
    with pytest.raises(tarn.TagNotFoundError):
        client.rename_tag("main", unique("x"))  # a branch is not a tag
    client.delete_tag(name + "_r")
    with pytest.raises(tarn.TagNotFoundError):
        client.delete_tag(name + "_r")
    client.delete_tag(name + "_r", if_exists=True)


def test_renaming_a_tag_needs_an_admin(tarn_auth_server):
    admin = tarn.Client(tarn_auth_server.endpoint, token=tarn_auth_server.tokens["admin"])
    alice = tarn.Client(tarn_auth_server.endpoint, token=tarn_auth_server.tokens["alice"])
    name = unique("v")
    admin.create_tag(name)
    with pytest.raises(tarn.ForbiddenError, match="admins"):
        alice.rename_tag(name, "alice." + name)
    assert admin.rename_tag(name, name + "_r").name == name + "_r"
    assert alice.whoami().admin is False and admin.whoami().admin is True


# --- commits, merges and BRANCH@HASH --------------------------------------------------------


def test_commits_are_typed(client):
    table = unique("logged")
    written = client.create_table(table, pa.table({"x": [1]}), message=f"add {table}")
    assert isinstance(written, tarn.WriteResult) and written.table == "tarn." + table and written.added_rows == 1
    head = client.resolve()
    assert isinstance(head, tarn.Commit) and head == written.commit and isinstance(head.time, datetime)
    assert head.time.tzinfo is not None and head.message == f"add {table}"
    log = client.get_commits(limit=2)
    assert log[0] == head and log[1].hash in head.parents
    assert client.get_commit(head.hash) == head
    with pytest.raises(tarn.CommitNotFoundError):
        client.get_commit("0" * 64)


def test_branch_at_hash_names_a_commit_of_its_history(client):
    table = unique("hist")
    first = client.create_table(table, pa.table({"x": [1, 2]})).commit
    client.import_data(table, pa.table({"x": [3]}))
    assert client.scan(table).num_rows == 3
    at = "main@" + first.hash[:7]
    assert client.scan(table, ref=at).num_rows == 2
    assert client.query(f"select count(*) as n from {table}", ref=at).column("n").to_pylist() == [2]
    assert client.get_table(table, ref=at).rows == 2 and client.resolve(at) == first
    assert client.resolve(at + "~1").hash == first.parents[0]
    other = unique("other")
    client.create_branch(other, from_ref=first.parents[0])
    with pytest.raises(tarn.CommitNotFoundError, match=f"commit {first.hash[:8]} is not in the history of branch {other}"):
        client.resolve(f"{other}@{first.hash[:8]}")
    with pytest.raises(tarn.RefNotFoundError, match="must be a branch or tag"):
        client.scan(table, ref=unique("nosuch") + "@" + first.hash[:8])
    with pytest.raises(tarn.InvalidError, match="after @ give a commit hash"):
        client.resolve("main@xyz")
    with pytest.raises(tarn.InvalidError, match="only branches are writable"):
        client.import_data(table, pa.table({"x": [4]}), branch=at)


def test_merge_conflict(client):
    table = unique("contested")
    client.create_table(table, pa.table({"x": [1]}))
    side = unique("side")
    client.create_branch(side)
    client.create_table(table, pa.table({"x": [2]}), branch=side, replace=True)
    client.import_data(table, pa.table({"x": [3]}))
    before = client.resolve()
    with pytest.raises(tarn.MergeConflictError, match=f"tarn.{table}: {side} replaced the table") as e:
        client.merge_branch(side)
    assert isinstance(e.value, tarn.ConflictError) and e.value.reason == "merge_conflict" and e.value.code == "conflict"
    assert client.resolve() == before, "nothing was merged"
    fresh = unique("fresh")
    client.create_branch(fresh)
    client.create_table(unique("t"), pa.table({"x": [1]}), branch=fresh)
    merged = client.merge_branch(fresh)
    assert isinstance(merged, tarn.MergeResult) and merged.fast_forward and merged.commit == client.resolve()
    assert [c.change for c in merged.changes] == ["added"]
    assert [c.change for c in client.diff(before.hash, "main")] == ["added"]


# --- namespaces and tables -------------------------------------------------------------------


def test_namespaces(client):
    ns = unique("ns")
    assert not client.has_namespace(ns)
    made = client.create_namespace(ns)
    assert isinstance(made, tarn.Commit) and made == client.resolve()
    got = client.get_namespace(ns)
    assert isinstance(got, tarn.Namespace) and got.name == ns and got.tables == 0 and client.has_namespace(ns)
    with pytest.raises(tarn.NamespaceExistsError):
        client.create_namespace(ns)
    assert client.create_namespace(ns, if_not_exists=True) == made, "nothing written: the branch's head"
    with pytest.raises(tarn.NamespaceExistsError, match="only in case"):
        client.create_namespace(ns.upper(), if_not_exists=True)  # a twin is not the namespace
    client.create_table(f"{ns}.t", pa.table({"x": [1]}))
    assert client.get_namespace(ns).tables == 1
    with pytest.raises(tarn.NamespaceNotEmptyError, match="not empty") as e:
        client.drop_namespace(ns)
    assert isinstance(e.value, tarn.InvalidError) and e.value.status == 400
    client.drop_namespace(ns, force=True)
    with pytest.raises(tarn.NamespaceNotFoundError, match=f"namespace '{ns}' not found"):
        client.get_namespace(ns)
    with pytest.raises(tarn.NamespaceNotFoundError):
        client.drop_namespace(ns)
    assert client.drop_namespace(ns, if_exists=True) == client.resolve()
    with pytest.raises(tarn.InvalidError, match="invalid namespace name"):
        client.has_namespace("no-dashes")


def test_tables(client):
    name = unique("trips")
    assert not client.has_table(name) and not client.has_table("tarn." + name)
    client.create_table(name, pa.table({"id": pa.array([1, 2], pa.int64()), "zone": ["a", "b"]}), partition_by="zone")
    assert client.has_table(name) and client.has_table("tarn." + name) and not client.has_table(unique("nosuch") + "." + name)
    info = client.get_table(name)
    assert isinstance(info, tarn.Table) and info.full_name == "tarn." + name and info.rows == 2
    assert [(c.name, c.type) for c in info.schema] == [("id", "long"), ("zone", "string")]
    assert [p.source for p in info.partition_spec] == ["zone"] and info.current_snapshot.total_rows == 2
    listed = [t for t in client.list_tables(namespace="tarn") if t.name == name]
    assert len(listed) == 1 and listed[0].rows == 2 and listed[0]["table"] == {"namespace": "tarn", "name": name}
    with pytest.raises(tarn.TableExistsError) as e:
        client.create_table(name, pa.table({"id": [3]}))
    assert isinstance(e.value, tarn.AlreadyExistsError) and e.value.resource == "table"
    kept = client.create_table(name, pa.table({"id": [3]}), if_not_exists=True)
    assert kept.existed and kept.added_rows == 0
    with pytest.raises(tarn.InvalidError, match="contradict"):
        client.create_table(name, pa.table({"id": [3]}), replace=True, if_not_exists=True)
    client.delete_table(name)
    with pytest.raises(tarn.TableNotFoundError, match="not found"):
        client.get_table(name)
    with pytest.raises(tarn.TableNotFoundError):
        client.drop_table(name)
    assert client.drop_table(name, if_exists=True) == client.resolve()
    with pytest.raises(tarn.NamespaceNotFoundError):
        client.get_table(unique("nosuch") + ".t")
    with pytest.raises(tarn.InvalidError):
        client.has_table("a.b.c")


def test_an_empty_table_from_a_schema(client):
    name = unique("empty")
    schema = pa.schema([("id", pa.int64()), ("price", pa.decimal128(10, 2)), ("at", pa.timestamp("us", tz="UTC"))])
    client.create_table(name, schema)
    info = client.get_table(name)
    assert info.rows == 0 and [c.type for c in info.schema] == ["long", "decimal(10, 2)", "timestamptz"]


# --- table plans -------------------------------------------------------------------------------


def test_plan_then_apply(client, tmp_path):
    csv = tmp_path / "zones.csv"
    csv.write_text("zone,name,fee\na,Airport,1.5\nb,Beach,2\n")
    name = unique("zones")
    head = client.resolve()
    plan = client.plan_table_creation(name, str(csv), partition_by="zone")
    assert isinstance(plan, tarn.TablePlan) and plan.action == "create" and plan.table == "tarn." + name
    assert plan.branch == "main" and plan.commit == head.hash and plan.files == ["zones.csv"]
    assert [(c.name, c.type) for c in plan.columns] == [("zone", "string"), ("name", "string"), ("fee", "double")]
    assert [(p.name, p.transform, p.source) for p in plan.partition_spec] == [("zone", "identity", "zone")]
    assert not client.has_table(name) and client.resolve() == head, "a plan writes nothing"
    plan.columns[2].type = "decimal(10,2)"
    written = client.apply_table_creation_plan(plan, message="from a plan")
    assert written.added_rows == 2 and written.commit.message == "from a plan"
    info = client.get_table(name)
    assert [c.type for c in info.schema] == ["string", "string", "decimal(10, 2)"] and len(info.partition_spec) == 1
    # The same plan again: the table exists now, and the server says so.
    with pytest.raises(tarn.TableExistsError):
        client.apply_table_creation_plan(plan)
    with pytest.raises(tarn.TableExistsError):
        client.plan_table_creation(name, str(csv))
    again = client.plan_table_creation(name, str(csv), replace=True)
    assert again.action == "replace" and len(again.columns) == 3
    keep = client.plan_table_creation(name, str(csv), if_not_exists=True)
    assert keep.action == "keep" and keep.columns == []
    assert client.apply_table_creation_plan(keep).existed
    # A plan saved as JSON applies with its data.
    saved = json.loads(json.dumps(client.plan_table_creation(unique("saved"), pa.table({"x": [1.5]})).to_dict()))
    with pytest.raises(tarn.InvalidError, match="holds no data"):
        client.apply_table_creation_plan(saved)
    assert client.apply_table_creation_plan(saved, data=pa.table({"x": [1.5, 2.5]})).added_rows == 2


def test_plan_from_a_schema_and_bad_plans(client):
    name = unique("planned")
    plan = client.plan_table_creation(name, schema=pa.schema([("id", pa.int32()), ("at", pa.date32())]))
    assert [(c.name, c.type) for c in plan.columns] == [("id", "int"), ("at", "date")]
    client.apply_table_creation_plan(plan)
    assert client.get_table(name).rows == 0
    with pytest.raises(tarn.InvalidError, match="not both"):
        client.plan_table_creation(unique("x"), pa.table({"x": [1]}), schema=pa.schema([("x", pa.int64())]))
    with pytest.raises(tarn.InvalidError, match="not both"):
        client.plan_table_creation(unique("x"))
    with pytest.raises(tarn.InvalidError, match="partition"):
        client.plan_table_creation(unique("x"), pa.table({"x": [1]}), partition_by="day(nosuch)")
    with pytest.raises(tarn.NamespaceNotFoundError):
        client.plan_table_creation(unique("nosuch") + ".t", pa.table({"x": [1]}))
    with pytest.raises(tarn.BranchNotFoundError):
        client.plan_table_creation(unique("x"), pa.table({"x": [1]}), branch=unique("nosuch"))
    bad = client.plan_table_creation(unique("x"), pa.table({"x": [1]}))
    bad.columns[0].type = "text"
    with pytest.raises(tarn.InvalidError, match="text"):
        client.apply_table_creation_plan(bad)


# --- query results as files ----------------------------------------------------------------------


def test_query_to_files(client, tmp_path):
    table = unique("out")
    client.create_table(table, pa.table({"id": pa.array([1, 2, 3], pa.int64()), "zone": ["a", "b", "a"]}))
    sql = f"select id, zone from {table} order by id"
    res = client.query_to_parquet_file(sql, tmp_path / "out.parquet")
    assert isinstance(res, tarn.ExportResult) and res.rows == 3 and res.format == "parquet"
    assert res.path == str(tmp_path / "out.parquet") and res.commit == client.resolve()
    assert pq.read_table(tmp_path / "out.parquet").to_pydict() == {"id": [1, 2, 3], "zone": ["a", "b", "a"]}
    client.query_to_csv_file(sql, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text().splitlines() == ["id,zone", "1,a", "2,b", "3,a"]
    client.query_to_json_file(sql, tmp_path / "out.json")
    assert json.loads((tmp_path / "out.json").read_text()) == [{"id": 1, "zone": "a"}, {"id": 2, "zone": "b"}, {"id": 3, "zone": "a"}]
    client.query_to_json_file(sql, str(tmp_path / "out.jsonl"), lines=True)
    assert [json.loads(line)["id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()] == [1, 2, 3]
    first = client.resolve().hash
    client.import_data(table, pa.table({"id": [4], "zone": ["c"]}))
    assert client.query_to_csv_file(sql, tmp_path / "old.csv", ref="main@" + first[:8]).rows == 3


def test_a_failed_query_leaves_the_file_as_it_was(client, tmp_path):
    target = tmp_path / "report.csv"
    target.write_text("the old report\n")
    with pytest.raises(tarn.InvalidError):
        client.query_to_csv_file("selec 1", target)
    with pytest.raises(tarn.TableNotFoundError):
        client.query_to_csv_file(f"select * from {unique('nosuch')}", target)
    assert target.read_text() == "the old report\n" and os.listdir(tmp_path) == ["report.csv"], "no temporary file is left"
    with pytest.raises(tarn.InvalidError, match="no folder"):
        client.query_to_csv_file("select 1", tmp_path / "nosuch" / "x.csv")
    with pytest.raises(tarn.InvalidError, match="unknown format"):
        client.query_to_file("select 1", tmp_path / "x.xlsx", "xlsx")


# --- jobs ------------------------------------------------------------------------------------


def test_jobs_are_typed(client):
    client.query("select 1 as one")
    jobs = client.list_jobs()
    assert jobs and all(isinstance(j, tarn.Job) for j in jobs) and isinstance(jobs[0].created, datetime)
    assert client.get_job(jobs[0].id) == jobs[0] and jobs[0].kind == "query" and jobs[0].done
    with pytest.raises(tarn.JobNotFoundError):
        client.get_job("j20200101-000000-000000")
