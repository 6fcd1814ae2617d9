"""tarn.store outside a run (plain Python) and in a run's folder."""

import pytest

import tarn
from tarn import store


def test_store_in_memory_outside_a_run(monkeypatch):
    monkeypatch.setattr(store, "_dir", "")
    store.save_obj("k", {"a": 1})
    assert tarn.store.load_obj("k") == {"a": 1}
    with pytest.raises(KeyError, match="save_obj"):
        store.load_obj("nothing-saved")


def test_store_in_a_run_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(store, "_dir", str(tmp_path))
    store.save_obj("model.v1", [1, 2, 3])
    assert (tmp_path / "model.v1.pickle").exists()
    assert not list(tmp_path.glob("*.tmp"))
    assert store.load_obj("model.v1") == [1, 2, 3]
    with pytest.raises(KeyError, match="must run first"):
        store.load_obj("other")


@pytest.mark.parametrize("key", ["", "../x", "a/b", ".hidden", "x" * 201, 3])
def test_bad_keys(key):
    with pytest.raises(ValueError, match="store key"):
        store.save_obj(key, 1)
