"""The client's typed results and its error classes, without a server: records read from the
JSON the server sends (api/openapi.yaml), their dict view, and the exception each error body maps to."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import tarn
from tarn._client_http import make_error
from tarn._client_types import parse_time

BRANCH = {"name": "dev", "kind": "branch", "commit": "ab" * 32}
COMMIT = {
    "hash": "cd" * 32,
    "parents": ["ab" * 32],
    "author": "alice",
    "message": "add trips",
    "time": "2026-05-19T06:11:33.123456789Z",
    "properties": {"tarn.run_id": "r1"},
    "tree": "ef" * 32,
    "generation": 7,
}
TABLE_INFO = {
    "table": {"namespace": "sales", "name": "orders"},
    "ref": "main@cdcdcdcd",
    "commit": "cd" * 32,
    "uuid": "u-1",
    "format_version": 2,
    "location": "/lake/sales/orders",
    "metadata_location": "/lake/sales/orders/metadata/v2.json",
    "schema": [{"id": 1, "name": "id", "type": "long", "required": False}, {"id": 2, "name": "at", "type": "timestamptz", "required": True}],
    "partition_spec": [{"name": "at_day", "transform": "day", "source": "at"}],
    "current_snapshot": {"snapshot_id": 9, "time": "2026-05-19T08:11:33+02:00", "operation": "append", "added_rows": 3, "total_rows": 5, "current": True},
    "rows": 5,
    "files": 2,
    "bytes": 4096,
    "data_files": [{"path": "/lake/sales/orders/data/a.parquet", "rows": 5, "bytes": 4096}],
    "history": [],
}


def test_a_record_has_attributes_and_reads_as_the_json():
    b = tarn.Branch.from_json(dict(BRANCH))
    assert (b.name, b.kind, b.commit) == ("dev", "branch", "ab" * 32)
    assert b["commit"] == BRANCH["commit"] and b.get("commit") == BRANCH["commit"] and b.get("nosuch", 1) == 1
    assert "name" in b and "nosuch" not in b and sorted(b) == ["commit", "kind", "name"] and len(b) == 3
    assert dict(b) == BRANCH and {**b} == BRANCH and b == BRANCH and b.to_dict() == BRANCH
    with pytest.raises(KeyError):
        b["nosuch"]
    copy = b.to_dict()
    copy["name"] = "changed"
    assert b["name"] == "dev", "to_dict returns a copy"
    assert b == tarn.Branch.from_json(dict(BRANCH)) and b != tarn.Tag.from_json({**BRANCH, "kind": "tag"})
    with pytest.raises(TypeError):
        hash(b)  # like the dict it stands for


def test_fields_the_server_adds_later_stay_in_the_json():
    b = tarn.Branch.from_json({**BRANCH, "protected": True})
    assert b["protected"] is True and not hasattr(b, "protected")


def test_a_record_built_by_hand_maps_its_attributes():
    b = tarn.Branch(name="x", commit="c")
    assert b.kind == "branch" and b["kind"] == "branch" and b.to_dict() == {"name": "x", "kind": "branch", "commit": "c"}
    c = tarn.Commit(hash="h", time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    assert c["time"] == "2026-01-02T03:04:05Z"


def test_commit_times_are_aware_datetimes():
    c = tarn.Commit.from_json(dict(COMMIT))
    assert c.time == datetime(2026, 5, 19, 6, 11, 33, 123456, tzinfo=timezone.utc)
    assert c["time"] == COMMIT["time"], "the JSON keeps the server's text"
    assert c.parents == COMMIT["parents"] and c.generation == 7 and c.properties == {"tarn.run_id": "r1"}
    assert c.short_hash == "cd" * 6
    assert parse_time("2026-05-19T08:11:33-02:30") == datetime(2026, 5, 19, 10, 41, 33, tzinfo=timezone.utc)
    assert parse_time("2026-05-19T08:11:33.5+01:00").utcoffset() == timedelta(hours=1)
    assert parse_time(None) is None and parse_time("") is None
    with pytest.raises(tarn.TarnError, match="not RFC 3339"):
        parse_time("yesterday")


def test_a_table_description_and_a_listing():
    t = tarn.Table.from_json(TABLE_INFO)
    assert (t.namespace, t.name, t.full_name) == ("sales", "orders", "sales.orders")
    assert t["table"] == {"namespace": "sales", "name": "orders"}
    assert [(c.name, c.type, c.required) for c in t.schema] == [("id", "long", False), ("at", "timestamptz", True)]
    assert t.schema[0]["name"] == "id", "nested records read as JSON too"
    assert t.partition_spec[0].transform == "day" and t.partition_spec[0].source == "at"
    assert t.current_snapshot.total_rows == 5 and t.current_snapshot.time == datetime(2026, 5, 19, 6, 11, 33, tzinfo=timezone.utc)
    assert t.data_files[0].bytes == 4096 and t.history == [] and t.ref == "main@cdcdcdcd"
    listed = tarn.Table.from_json({"table": {"namespace": "tarn", "name": "t"}, "rows": 3, "files": 1, "bytes": 10, "metadata_location": "m"})
    assert listed.full_name == "tarn.t" and listed.rows == 3 and listed.schema == [] and listed.current_snapshot is None


def test_write_merge_and_change_results():
    w = tarn.WriteResult.from_json({"table": {"namespace": "tarn", "name": "t"}, "branch": "main", "commit": COMMIT, "added_rows": 2})
    assert w.table == "tarn.t" and w.commit.hash == COMMIT["hash"] and w.added_rows == 2 and not w.existed
    assert w["table"] == {"namespace": "tarn", "name": "t"} and w["commit"]["hash"] == COMMIT["hash"]
    m = tarn.MergeResult.from_json(
        {"source": "dev", "into": "main", "commit": COMMIT, "fast_forward": True, "up_to_date": False,
         "changes": [{"key": "tarn.t", "change": "added", "new": {"kind": "table", "rows": 2}}]}
    )
    assert m.fast_forward and m.changes[0].new.rows == 2 and m.changes[0].old is None and m.commit.author == "alice"


def test_job_user_and_run_result():
    job = tarn.Job.from_json(
        {"id": "j1", "kind": "run", "state": "failed", "created": "2026-01-01T00:00:00Z",
         "error": {"code": "invalid", "message": "bad"}, "result": {"run_id": "r1", "commit": COMMIT, "steps": []}}
    )
    assert job.done and job.error.code == "invalid" and job.created.year == 2026 and job.started is None
    assert job["error"] == {"code": "invalid", "message": "bad"}
    result = tarn.RunResult.from_job(job)
    assert result.run_id == "r1" and result.commit.hash == COMMIT["hash"] and result.commit["hash"] == COMMIT["hash"]
    assert result.raw["id"] == "j1"
    assert not tarn.Job.from_json({"id": "j2", "state": "running", "created": "2026-01-01T00:00:00Z"}).done
    user = tarn.User.from_json({"name": "alice", "admin": False, "created": "2026-01-01T00:00:00Z"})
    assert user.name == "alice" and user.expires is None and user == {**user, "admin": False}


def test_a_table_plan_maps_its_edits():
    plan = tarn.TablePlan.from_json(
        {"table": {"namespace": "tarn", "name": "zones"}, "branch": "main", "commit": "h", "action": "create",
         "columns": [{"name": "fee", "type": "double"}], "partition_spec": [], "files": ["zones.csv"]}
    )
    assert plan.table == "tarn.zones" and plan.columns[0].type == "double" and plan.files == ["zones.csv"]
    plan.columns[0].type = "decimal(10,2)"
    plan.partition_by = "fee"
    assert plan["columns"] == [{"name": "fee", "type": "decimal(10,2)", "required": False}]
    assert plan.to_dict()["partition_by"] == "fee" and "data" not in plan.to_dict()


def test_the_server_sends_something_else():
    with pytest.raises(tarn.TarnError, match="where a Branch belongs"):
        tarn.Branch.from_json(["not", "an", "object"])


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, resource, reason, cls, bases",
    [
        ("not_found", "branch", None, tarn.BranchNotFoundError, (tarn.RefNotFoundError, tarn.NotFoundError)),
        ("not_found", "tag", None, tarn.TagNotFoundError, (tarn.RefNotFoundError,)),
        ("not_found", "ref", None, tarn.RefNotFoundError, (tarn.NotFoundError,)),
        ("not_found", "commit", None, tarn.CommitNotFoundError, (tarn.RefNotFoundError,)),
        ("not_found", "namespace", None, tarn.NamespaceNotFoundError, (tarn.NotFoundError,)),
        ("not_found", "table", None, tarn.TableNotFoundError, (tarn.NotFoundError,)),
        ("not_found", "job", None, tarn.JobNotFoundError, (tarn.NotFoundError,)),
        ("not_found", None, None, tarn.NotFoundError, ()),
        ("not_found", "something new", None, tarn.NotFoundError, ()),
        ("exists", "branch", None, tarn.BranchExistsError, (tarn.RefExistsError, tarn.AlreadyExistsError, tarn.ConflictError)),
        ("exists", "tag", None, tarn.TagExistsError, (tarn.RefExistsError,)),
        ("exists", "namespace", None, tarn.NamespaceExistsError, (tarn.AlreadyExistsError,)),
        ("exists", "table", None, tarn.TableExistsError, (tarn.AlreadyExistsError,)),
        ("exists", "user", None, tarn.UserExistsError, (tarn.AlreadyExistsError,)),
        ("exists", None, None, tarn.AlreadyExistsError, (tarn.ConflictError,)),
        ("conflict", None, "merge_conflict", tarn.MergeConflictError, (tarn.ConflictError,)),
        ("conflict", "branch", None, tarn.ConflictError, ()),
        ("invalid", "namespace", "not_empty", tarn.NamespaceNotEmptyError, (tarn.InvalidError,)),
        ("invalid", "namespace", None, tarn.InvalidError, ()),
        # A resource with another code says nothing more than the code.
        ("invalid", "branch", None, tarn.InvalidError, ()),
        ("cancelled", None, None, tarn.CancelledError, ()),
        ("teapot", None, None, tarn.TarnError, ()),
    ],
)
def test_an_error_body_maps_to_its_class(code, resource, reason, cls, bases):
    err = make_error(code, "the message", 404, resource, reason)
    assert type(err) is cls and isinstance(err, tarn.TarnError) and all(isinstance(err, b) for b in bases)
    assert (err.code, err.resource, err.reason, err.status, str(err)) == (code, resource, reason, 404, "the message")


def test_the_error_classes_are_exported():
    import tarn._exceptions as exceptions

    for name in exceptions.__all__:
        assert getattr(tarn, name) is getattr(exceptions, name) and name in tarn.__all__
