"""The profile file reads as the shared vectors (testdata/profile) say, as in the CLI."""

import json
from pathlib import Path

import pytest

from tarn import _client_http
from tarn._exceptions import TarnError

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "testdata" / "profile" / "cases.json").read_text())


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_read_profile(case, tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(case["text"])
    if case.get("error"):
        with pytest.raises(TarnError):
            _client_http.read_profile(str(path))
        return
    assert _client_http.read_profile(str(path)) == case["settings"]


def test_missing_profile_is_empty(tmp_path):
    assert _client_http.read_profile(str(tmp_path / "none.yml")) == {}
