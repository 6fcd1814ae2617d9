"""Project packing: the shared vectors (testdata/pack, also run by the Go client's tests)."""

from __future__ import annotations

import pytest

from conftest import vectors
from tarn._client_pack import project_files

CASES = vectors("pack/cases.json")["cases"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_pack_vectors(tmp_path, case):
    if case["gitignore"] is not None:
        (tmp_path / ".gitignore").write_bytes(case["gitignore"].encode())
    for name in case["files"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    packed = sorted(rel for rel, _, is_dir in project_files(str(tmp_path)) if not is_dir)
    assert packed == case["packed"]
