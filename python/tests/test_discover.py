"""Static discovery: what it reports, the errors it reports, and that it never runs user code."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import run_discover, sdk_env

TRIPS = """
import os
import tarn
from tarn import Model, Parameter as P
import pandas as pd, numpy.linalg
from . import sibling_relative
import helpers

@tarn.model(materialization_strategy="REPLACE", partitioned_by="day(pickup_at)")
@tarn.python("3.11", pip={"pandas": "2.2.3"})
@tarn.resources(memory="4GiB", timeout=600)
def clean_trips(
    trips=tarn.Model("taxi_trips", columns=["a", "b"], filter="miles > 0"),
    min_miles=P("min_miles"),
    x=None,
    *,
    y,
    scale=tarn.Parameter(default=2.5),
):
    import polars
    return trips

def helper():
    import scipy.stats

@tarn.expectation(name="fares_positive")
def check(t=Model("clean_trips", ref="main")):
    import duckdb
    return True

@tarn.model
def other(t=Model("clean_trips")):
    import sklearn
"""


def by_name(entries):
    return {entry["name"]: entry for entry in entries}


def test_models_expectations_params_imports(project):
    root = project({"models/trips.py": TRIPS, "models/helpers.py": "X = 1\n"})
    found = run_discover(root)
    assert found["errors"] == []
    models = by_name(found["models"])
    assert set(models) == {"clean_trips", "other"}

    clean = models["clean_trips"]
    assert {k: v for k, v in clean.items() if k not in ("inputs", "parameters", "other_params", "imports", "code_hash")} == {
        "name": "clean_trips",
        "kind": "python",
        "file": "models/trips.py",
        "line": 11,
        "function": "clean_trips",
        "materialization_strategy": "REPLACE",
        "partitioned_by": ["day(pickup_at)"],
        "overwrite_filter": None,
        "internet_access": False,
        "columns": None,
        "cache_strategy": "AUTO",
        "uses_store": False,
        "python": {"version": "3.11", "pip": {"pandas": "2.2.3"}},
        "resources": {"memory": "4GiB", "memory_bytes": 4 * 2**30, "timeout": 600},
    }
    assert clean["inputs"] == [
        {"param": "trips", "name": "taxi_trips", "columns": ["a", "b"], "filter": "miles > 0", "ref": None, "batches": False, "line": 12}
    ]
    assert clean["parameters"] == [
        {"param": "min_miles", "name": "min_miles", "line": 13, "has_default": False, "default": None},
        {"param": "scale", "name": "scale", "line": 17, "has_default": True, "default": 2.5},
    ]
    assert clean["other_params"] == [
        {"param": "x", "line": 14, "has_default": True},
        {"param": "y", "line": 16, "has_default": False},
    ]
    # Module-level imports, the model's own, and helper functions' -- not other models'.
    assert [(i["module"], i["line"], i["origin"]) for i in clean["imports"]] == [
        ("os", 1, "stdlib"),
        ("tarn", 2, "tarn"),
        ("tarn", 3, "tarn"),
        ("numpy", 4, "external"),
        ("pandas", 4, "external"),
        ("helpers", 6, "project"),
        ("polars", 19, "external"),
        ("scipy", 23, "external"),
    ]
    other_imports = [i["module"] for i in models["other"]["imports"]]
    assert "sklearn" in other_imports and "polars" not in other_imports and "duckdb" not in other_imports

    (check,) = found["expectations"]
    assert check["name"] == "fares_positive" and check["function"] == "check"
    assert check["inputs"][0]["ref"] == "main"
    assert check["python"] is None and check["resources"] is None
    assert "materialization_strategy" not in check


def test_nested_directories_and_skipped_ones(project):
    model = "import tarn\n@tarn.model\ndef {name}():\n    return []\n"
    root = project(
        {
            "a/b/c/deep.py": model.format(name="deep"),
            "top.py": model.format(name="top"),
            ".hidden/h.py": model.format(name="hidden"),
            "__pycache__/p.py": model.format(name="cached"),
            ".venv/lib/v.py": model.format(name="venv1"),
            ".venv-dev/lib/v.py": model.format(name="venv2"),
            "venv/lib/v.py": model.format(name="venv3"),
            "node_modules/n.py": model.format(name="node"),
            "notes.txt": "not python",
        }
    )
    found = run_discover(root)
    assert sorted((m["name"], m["file"]) for m in found["models"]) == [("deep", "a/b/c/deep.py"), ("top", "top.py")]


def test_aliases_and_star_import(project):
    root = project(
        {
            "alias.py": "import tarn as t\n@t.model(name='aliased')\ndef f(x=t.Model('src')):\n    pass\n",
            "star.py": "from tarn import *\n@model\n@python('3.12')\ndef g(x=Model('src')):\n    pass\n",
            "renamed.py": "from tarn import model as m\n@m('renamed')\ndef h():\n    pass\n",
            "unrelated.py": "from mylib import model\n@model\ndef not_tarn():\n    pass\n",
        }
    )
    found = run_discover(root)
    assert sorted(m["name"] for m in found["models"]) == ["aliased", "g", "renamed"]
    assert by_name(found["models"])["g"]["python"] == {"version": "3.12", "pip": {}}
    assert by_name(found["models"])["aliased"]["inputs"][0]["name"] == "src"


def test_syntax_error_with_line_and_column(project):
    root = project(
        {
            "models/bad.py": "import tarn\n\n@tarn.model\ndef f(:\n    pass\n",
            "ok.py": "import tarn\n@tarn.model\ndef ok():\n    pass\n",
        }
    )
    found = run_discover(root)
    assert [m["name"] for m in found["models"]] == ["ok"]
    (error,) = found["errors"]
    assert (error["file"], error["line"], error["column"]) == ("models/bad.py", 4, 7)
    assert "invalid syntax" in error["message"]


@pytest.mark.parametrize(
    "source, line, column, message",
    [
        (
            "S = 'REPLACE'\n@tarn.model(materialization_strategy=S)\ndef f(): pass\n",
            2,
            38,
            "argument 'materialization_strategy' must be a literal value, not `S`",
        ),
        (
            "@tarn.model(materialization_strategy='upsert')\ndef f(): pass\n",
            1,
            2,
            "unknown materialization_strategy 'upsert'; valid strategies: NONE, REPLACE",
        ),
        ("@tarn.model(foo=1)\ndef f(): pass\n", 1, 13, "@tarn.model on f has no argument 'foo' (valid: name, columns"),
        ("opts = {}\n@tarn.model(**opts)\ndef f(): pass\n", 2, 15, "**opts cannot be read statically"),
        ("@tarn.python('3.11')\ndef f(): pass\n", 2, 1, "f has @tarn.python but no @tarn.model or @tarn.expectation"),
        ("@tarn.resources(memory='1GiB')\ndef f(): pass\n", 2, 1, "f has @tarn.resources but no @tarn.model"),
        (
            "@tarn.model\ndef f(t=tarn.Model(columns=['a'])): pass\n",
            2,
            9,
            "needs the name of the table or model to read",
        ),
        ("@tarn.model\ndef f(t=tarn.Model): pass\n", 2, 9, "call it, e.g. tarn.Model('name')"),
        ("@tarn.model\ndef f(t=tarn.Model('x', filter='a >')): pass\n", 2, 9, "filter 'a >': expected a column name"),
        (
            "@tarn.model\ndef f(t=tarn.Model('x', where='a')): pass\n",
            2,
            25,
            "has no argument 'where' (valid: name, columns, filter, ref, projection_schema, batches)",
        ),
        (
            "@tarn.model\ndef f(t=tarn.Parameter('p', default=float)): pass\n",
            2,
            37,
            "argument 'default' must be a literal value",
        ),
        ("@tarn.model\n@tarn.expectation\ndef f(): pass\n", 3, 1, "cannot be both a tarn model and a tarn expectation"),
        ("@tarn.model\n@tarn.model\ndef f(): pass\n", 2, 2, "decorated with @tarn.model twice"),
        ("@tarn.python(3.10)\n@tarn.model\ndef f(): pass\n", 1, 2, "cannot tell 3.10 from 3.1"),
        (
            "def outer():\n    @tarn.model\n    def inner(): pass\n",
            3,
            5,
            "inner is decorated with tarn but is not defined at module level",
        ),
        ("@tarn.model('a', 'b')\ndef f(): pass\n", 1, 2, "takes at most 1 positional argument(s) (name)"),
    ],
)
def test_reported_errors(project, source, line, column, message):
    root = project({"m.py": "import tarn\n" + source})
    found = run_discover(root)
    assert found["models"] == [] and found["expectations"] == []
    assert len(found["errors"]) == 1, found["errors"]
    error = found["errors"][0]
    assert message in error["message"]
    assert (error["file"], error["line"], error["column"]) == ("m.py", line + 1, column)


def test_does_not_execute_user_code(project, tmp_path):
    marker = tmp_path / "executed"
    root = project(
        {
            "side_effects.py": f"""
                import tarn
                open({str(marker)!r}, "w").write("ran")
                raise SystemExit("discovery must not import me")

                @tarn.model(materialization_strategy="APPEND")
                def appended(t=tarn.Model("src")):
                    open({str(marker)!r}, "w").write("ran")
                """,
            "import_error.py": "import tarn\nimport package_that_does_not_exist\n@tarn.model\ndef fine():\n    pass\n",
        }
    )
    found = run_discover(root)
    assert not marker.exists()
    assert sorted(m["name"] for m in found["models"]) == ["appended", "fine"]
    assert by_name(found["models"])["appended"]["materialization_strategy"] == "APPEND"


def test_usage_errors_exit_non_zero(tmp_path):
    for args in ([], [str(tmp_path / "missing")]):
        proc = subprocess.run(
            [sys.executable, "-m", "tarn._discover", *args], capture_output=True, text=True, env=sdk_env()
        )
        assert proc.returncode == 2, proc
        assert proc.stdout == ""


def test_matches_runtime_metadata(project):
    """Discovery (static) and the decorators (at import) agree on every field."""
    pytest.importorskip("pandas", reason="the sample project imports pandas")
    pytest.importorskip("numpy", reason="the sample project imports numpy")
    root = project({"models/trips.py": TRIPS.replace("from . import sibling_relative\n", ""), "models/helpers.py": ""})
    found = by_name(run_discover(root)["models"])
    import importlib.util

    sys.path.insert(0, str(root / "models"))
    try:
        spec = importlib.util.spec_from_file_location("discover_trips", root / "models/trips.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(root / "models"))
        sys.modules.pop("helpers", None)
    runtime = module.clean_trips.__tarn__.to_dict()
    static = found["clean_trips"]
    for key, value in runtime.items():
        if key in ("inputs", "parameters"):
            assert [{k: v for k, v in item.items() if k != "line"} for item in static[key]] == value
        elif key == "kind":
            assert value == "model" and static[key] == "python"
        else:
            assert static[key] == value, key


def _python39():
    candidates = [shutil.which("python3.9")] + sorted(
        glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9"))
    )
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "import ast, json"], capture_output=True).returncode == 0:
            return candidate
    return None


def test_runs_on_python_3_9(project):
    python = _python39()
    if python is None:
        pytest.skip("no Python 3.9 interpreter on this machine")
    root = project({"models/trips.py": TRIPS, "bad.py": "def f(:\n"})
    old, new = run_discover(root, python=python), run_discover(root)
    # Only 3.10+ names its standard library's modules (sys.stdlib_module_names).
    assert "stdlib" not in old and "json" in new.pop("stdlib")
    assert old == new


CACHED_MODELS = """
import tarn
import util

LIMIT = 1


@tarn.model(cache_strategy="none")
def fresh(t=tarn.Model("x")):
    return t


@tarn.model()
def cached(t=tarn.Model("x")):
    return t
"""


def code_hashes(root):
    found = run_discover(root)
    assert not found["errors"], found["errors"]
    return {m["name"]: m["code_hash"] for m in found["models"]}


def test_cache_strategy_and_code_hash(project):
    root = project({"models/m.py": CACHED_MODELS, "util.py": "from lib.helpers import K\n",
                    "lib/__init__.py": "", "lib/helpers.py": "K = 1\n"})
    found = run_discover(root)
    strategies = {m["name"]: m["cache_strategy"] for m in found["models"]}
    assert strategies == {"fresh": "NONE", "cached": "AUTO"}
    first = code_hashes(root)
    assert len(first["cached"]) == 64
    # Comments and formatting do not change the hash.
    (root / "models/m.py").write_text(CACHED_MODELS.replace("LIMIT = 1", "# the limit\nLIMIT  =  1   # rows\n\n"))
    assert code_hashes(root) == first
    # Editing one model leaves the other's hash alone.
    (root / "models/m.py").write_text(CACHED_MODELS.replace("    return t\n\n\n@tarn.model()", "    return t[:1]\n\n\n@tarn.model()"))
    edited = code_hashes(root)
    assert edited["cached"] == first["cached"] and edited["fresh"] != first["fresh"]
    # A module-level constant changes both.
    (root / "models/m.py").write_text(CACHED_MODELS.replace("LIMIT = 1", "LIMIT = 2"))
    second = code_hashes(root)
    assert second["cached"] != first["cached"] and second["fresh"] != first["fresh"]
    # So does a project module imported through another one.
    (root / "lib/helpers.py").write_text("K = 2\n")
    assert code_hashes(root)["cached"] != second["cached"]


def test_unknown_cache_strategy_is_an_error(project):
    root = project({"m.py": "import tarn\n\n@tarn.model(cache_strategy='sometimes')\ndef m():\n    return []\n"})
    errors = run_discover(root)["errors"]
    assert errors and "unknown cache_strategy 'sometimes'" in errors[0]["message"] and errors[0]["line"] == 3


MODEL = "import tarn\n\n@tarn.model()\ndef m():\n    return []\n"


def test_deep_folders_are_reported_not_a_crash(project):
    root = project({"top.py": MODEL})
    folders = [root / "d"]
    for _ in range(1499):  # os.walk recursed once per level and died at ~1000
        folders.append(folders[-1] / "d")
    try:
        for folder in folders:
            os.mkdir(folder)
        (folders[-1] / "hidden.py").write_text(MODEL.replace("def m", "def deep"))
        (folders[1] / "near.py").write_text(MODEL.replace("def m", "def near"))
        found = run_discover(root)  # exits 0 with JSON
        assert sorted(m["name"] for m in found["models"]) == ["m", "near"]
        assert len(found["errors"]) == 1
        error = found["errors"][0]
        assert "more than 64 deep" in error["message"] and error["file"].startswith("d/d/d/...") and len(error["file"]) < 200
    finally:  # bottom up: shutil.rmtree (pytest's cleanup) recurses and would fail on this tree
        for folder in reversed(folders):
            if folder.exists():
                for f in folder.glob("*.py"):
                    f.unlink()
                folder.rmdir()


def test_deeply_nested_code_is_reported_not_a_crash(project):
    # Parses (Python's parser recurses in C) but nests deeper than ast.dump can walk.
    deep = "import tarn\n\nX = 1" + "+1" * 1500 + "\n\n@tarn.model()\ndef deep():\n    return []\n"
    root = project({"deep.py": deep, "fine.py": MODEL, "user.py": "import deep\n" + MODEL.replace("def m", "def user")})
    found = run_discover(root)
    assert sorted(m["name"] for m in found["models"]) == ["m", "user"]
    assert [e["file"] for e in found["errors"]] == ["deep.py"]
    assert "nested too deeply" in found["errors"][0]["message"]


def test_files_over_the_size_limit_are_refused_unread(project):
    from tarn import _discover

    big = "import tarn\nX = '" + "a" * (_discover.MAX_FILE_BYTES + 1) + "'\n"
    root = project({"fine.py": MODEL, "models/big.py": big, "user.py": "import models.big\n" + MODEL.replace("def m", "def user")})
    found = run_discover(root)
    assert sorted(m["name"] for m in found["models"]) == ["m", "user"]  # an import of it is hashed from its bytes
    assert found["errors"] == [
        {"file": "models/big.py", "line": 1, "column": None,
         "message": "models/big.py is 4.0 MiB, over the 4 MiB limit for a project's Python file: keep data out of code "
                    "(in a lake table, or a file of the project the model reads)"}
    ]


def test_projects_over_the_total_size_limit_are_not_parsed(project, monkeypatch):
    from tarn import _discover

    monkeypatch.setattr(_discover, "MAX_TOTAL_BYTES", 2 << 20)
    root = project({"a.py": MODEL + "#" * (1 << 20), "b.py": MODEL + "#" * (1 << 20)})
    found = _discover.discover(str(root))
    assert found["models"] == []
    assert [e["message"] for e in found["errors"]] == [
        "the project's Python files hold 2.0 MiB (2 files), over the 2 MiB limit for all of a project's Python files: "
        "keep data out of code (in a lake table, or a file of the project the model reads)"
    ]


def test_memory_limit_names_the_file_that_needs_more(project):
    # About 1 KB of memory per element to parse and hash: 1.2 MB of code needs ~600 MB.
    root = project({"fine.py": MODEL, "models/big.py": "x = [" + "1," * 600_000 + "]\n"})
    proc = subprocess.run(
        [sys.executable, "-m", "tarn._discover", "--memory", str(128 << 20), str(root)],
        capture_output=True, text=True, env=sdk_env(), timeout=60,
    )
    assert proc.returncode == 3, proc
    assert "ran out of memory reading models/big.py: analysing it needs more than its limit of 128.0 MiB" in proc.stderr


def test_memory_limit_tells_deep_nesting_from_running_out(project):
    # The parser raises MemoryError on code nested too deeply, far below the limit.
    root = project({"fine.py": MODEL, "deep.py": "X = " + "-" * 100_000 + "1\n"})
    proc = subprocess.run(
        [sys.executable, "-m", "tarn._discover", "--memory", str(1 << 30), str(root)],
        capture_output=True, text=True, env=sdk_env(), timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert [m["name"] for m in found["models"]] == ["m"]
    assert [e["file"] for e in found["errors"]] == ["deep.py"]


@pytest.mark.parametrize(
    "imports, message",
    [
        ("from tarn import Modle", "tarn has no 'Modle' (did you mean 'Model'?)"),
        ("from tarn.standard_expectations import expect_column_no_null", "has no 'expect_column_no_null' (did you mean 'expect_column_no_nulls'?)"),
        ("from tarn.nosuch import x", "there is no module tarn.nosuch"),
        ("from tarn._worker import main", "there is no module tarn._worker"),
    ],
)
def test_unknown_names_from_tarn(project, imports, message):
    root = project({"m.py": "import tarn\n" + imports + "\n\n@tarn.model()\ndef m(): pass\n"})
    errors = run_discover(root)["errors"]
    assert len(errors) == 1 and errors[0]["line"] == 2 and message in errors[0]["message"], errors


def test_known_names_from_tarn(project):
    source = (
        "import tarn\nfrom tarn import Model, expectations, standard_expectations\n"
        "from tarn.standard_expectations import expect_column_no_nulls, expect_column_equal_concatenation\n"
        "from tarn.expectations import no_nulls\n\n@tarn.model()\ndef m(): pass\n"
    )
    assert run_discover(project({"m.py": source}))["errors"] == []
