"""A run's key-value store: pass Python objects between the steps of one run.

::

    import tarn

    @tarn.model()
    def fit(data=tarn.Model("trips")):
        model = train(data)
        tarn.store.save_obj("fare_model", model)
        return summary(model)

    @tarn.model()
    def score(data=tarn.Model("trips"), _=tarn.Model("fit")):
        model = tarn.store.load_obj("fare_model")
        ...

Objects are pickled into the run's own folder and removed with the run;
the step that loads one must run after the step that saved it (make it
read that step's output, as ``score`` reads ``fit`` above). A step that
uses the store is never served from the cache (its effect is not its
output). Called outside a run (a function called as plain Python, in a
test) the store is a dictionary of this process.
"""

from __future__ import annotations

import os
import pickle
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

__all__ = ["save_obj", "load_obj"]

# The run's folder, set by the worker from the step's spec ("" outside a run).
_dir: str = ""
_memory: Dict[str, bytes] = {}

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


def _path(key: str) -> Optional[str]:
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"store key {key!r}: use 1-200 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return os.path.join(_dir, key + ".pickle") if _dir else None


def save_obj(key: str, obj: Any) -> None:
    """Save ``obj`` (pickled) under ``key`` for the later steps of this run."""
    path = _path(key)
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if path is None:
        _memory[key] = data
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)  # whole or not at all


def load_obj(key: str) -> Any:
    """The object an earlier step of this run saved under ``key`` (KeyError when none did)."""
    path = _path(key)
    if path is None:
        if key not in _memory:
            raise KeyError(f"no object {key!r} in the store: save_obj({key!r}, ...) first")
        return pickle.loads(_memory[key])
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        raise KeyError(
            f"no object {key!r} in this run's store: the step that saves it must run first "
            "(make this step read its output with tarn.Model(...))"
        ) from None
