"""The check of a new environment (python -m tarn._envcheck)."""

from tarn import _envcheck


def test_main_module_is_the_one_named_like_the_distribution():
    # duckdb also ships adbc_driver_duckdb, which needs an optional package.
    assert "adbc_driver_duckdb" in _envcheck.top_level_modules("duckdb")
    assert _envcheck.main_module("duckdb") == "duckdb"
    assert _envcheck.main_module("pyarrow") == "pyarrow"


def test_main_module_of_an_unknown_distribution_is_none():
    assert _envcheck.main_module("no-such-distribution-here") is None


def test_check_reports_a_failing_import(monkeypatch):
    monkeypatch.setattr(_envcheck, "main_module", lambda dist: "no_such_module_anywhere")
    report = _envcheck.check(["somedist"])
    assert not report["ok"]
    assert report["failures"][0]["dist"] == "somedist"
    assert "ModuleNotFoundError" in report["failures"][0]["error"]
    assert report["pyarrow"]


def test_check_of_a_working_environment():
    report = _envcheck.check(["pyarrow", "pandas"])
    assert report["ok"], report
