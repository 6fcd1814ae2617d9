"""Secret parameters in the worker: read on stdin (cold) or in the hand-off (warm), never from the spec file,
passed like any parameter, and masked in the result document."""

from __future__ import annotations

import json
import sys

import pytest

from test_worker_warm import Warm, handoff, setup  # noqa: F401 - the fixture
from conftest import write_files

SECRET = "s3cr3t-Value"

MODELS = """
import hashlib
from typing import Annotated

import tarn

@tarn.model
def uses(token=tarn.Parameter("api_token"), n=tarn.Parameter("n")):
    print("token has", len(token), "characters")
    return {"length": [len(token)], "n": [n]}

@tarn.model
def leaks(token=tarn.Parameter("api_token")):
    raise ValueError(f"the server refused {token} and\\n{token.upper()}")

@tarn.model
def typed(token: Annotated[str, tarn.Parameter("api_token")], n: Annotated[int, tarn.Parameter("n")] = 1):
    return {"sha_len": [len(hashlib.sha256(token.encode()).hexdigest())], "ok": [token == "s3cr3t-Value"]}

@tarn.model
def multiline(key=tarn.Parameter("key")):
    raise ValueError("bad key line: " + key.splitlines()[1])
"""


@pytest.fixture
def root(project):
    return project({"models.py": MODELS})


def spec_of(root, function, **extra):
    spec = {"kind": "model", "project_dir": str(root), "file": "models.py", "function": function, "name": function}
    spec.update(extra)
    return spec


def stdin_line(**secrets) -> str:
    return json.dumps({"secrets": secrets}) + "\n"


def test_cold_worker_reads_secrets_on_stdin(root, worker):
    spec = spec_of(root, "uses", parameters={"n": 3}, secrets=["api_token"])
    run = worker(spec, stdin=stdin_line(api_token=SECRET))
    assert run.returncode == 0, run
    assert run.table.to_pydict() == {"length": [len(SECRET)], "n": [3]}
    assert "token has 12 characters" in run.stdout
    assert SECRET not in json.dumps(run.spec)  # the spec file never holds it


@pytest.mark.skipif(sys.version_info < (3, 9), reason="typing.Annotated is 3.9+")
def test_a_typed_model_reads_a_secret_like_any_parameter(root, worker):
    run = worker(spec_of(root, "typed", parameters={"n": 2}, secrets=["api_token"]), stdin=stdin_line(api_token=SECRET))
    assert run.returncode == 0, run
    assert run.table.to_pydict() == {"sha_len": [64], "ok": [True]}


def test_secret_in_an_error_is_masked_in_the_result(root, worker):
    run = worker(spec_of(root, "leaks", secrets=["api_token"]), stdin=stdin_line(api_token=SECRET))
    assert run.returncode == 1
    result = run.result
    assert result["message"] == f"the server refused *** and\n{SECRET.upper()}"
    assert SECRET not in json.dumps(result)
    assert "***" in result["traceback"]


def test_each_line_of_a_multiline_secret_is_masked(root, worker):
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----\n"
    run = worker(spec_of(root, "multiline", secrets=["key"]), stdin=stdin_line(key=key))
    assert run.returncode == 1
    assert run.result["message"] == "bad key line: ***"


def test_secrets_named_but_not_given_is_a_spec_error(root, worker):
    run = worker(spec_of(root, "uses", parameters={"n": 1}, secrets=["api_token"]), stdin="")
    assert run.returncode == 2
    assert run.result["error_type"] == "SpecError" and "secrets on stdin" in run.result["message"]
    run = worker(spec_of(root, "uses", parameters={"n": 1}, secrets=["api_token"]), stdin=stdin_line(other="x"))
    assert run.returncode == 2 and "lack a value of api_token" in run.result["message"]


def test_warm_worker_gets_secrets_in_the_hand_off(setup):  # noqa: F811
    tmp_path, spec_file, scratch, run_dir = setup
    write_files(tmp_path / "project", {"models.py": MODELS})
    spec = spec_file("leaks", secrets=["api_token"], inputs={})
    line = json.loads(handoff(spec, scratch))
    line["secrets"] = {"api_token": SECRET}
    _, code, stdout, stderr = Warm(tmp_path).hand_off(json.dumps(line) + "\n")
    assert code == 1, stderr
    result = json.loads((run_dir / "result.json").read_text())
    assert result["message"].startswith("the server refused *** and")
    assert SECRET not in json.dumps(result)
