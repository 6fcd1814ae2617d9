"""Check a new environment before tarn marks it built.

``python -m tarn._envcheck DIST...`` runs inside the build sandbox with the
new environment's interpreter. It imports pyarrow, tarn's worker and each
named distribution's top-level modules, and prints one JSON line::

    {"ok": false, "pyarrow": "26.0.1", "numpy": "1.26.4",
     "failures": [{"dist": "pyarrow", "module": "pyarrow", "error": "ImportError: ..."}]}

so that an environment whose pins do not work together (a pyarrow that
needs a newer NumPy than a pin allows, say) fails its build with the pins
named, not the first step that uses it.
"""

import json
import sys


def _version(dist):
    try:
        from importlib import metadata
    except ImportError:  # pragma: no cover - Python < 3.8
        return None
    try:
        return metadata.version(dist)
    except Exception:
        return None


def top_level_modules(dist):
    """The importable top-level modules of an installed distribution (best effort)."""
    from importlib import metadata

    try:
        d = metadata.distribution(dist)
    except Exception:
        return []
    text = d.read_text("top_level.txt")
    if text:
        names = [n.strip() for n in text.split() if n.strip()]
    else:
        names = []
        for f in d.files or []:
            parts = str(f).split("/")
            head = parts[0]
            if head.endswith((".dist-info", ".data")) or head.startswith(("..", "__")):
                continue
            if len(parts) == 1:
                if head.endswith(".py"):
                    names.append(head[:-3])
                elif head.endswith((".so", ".pyd")):
                    names.append(head.split(".")[0])
            elif (len(parts) == 2 and parts[1] == "__init__.py") or head.isidentifier():
                names.append(head)
    seen = []
    for n in names:
        if n.isidentifier() and not n.startswith("_") and n not in seen:
            seen.append(n)
    return seen


def main_module(dist):
    """The module a distribution is imported as: the one named like it
    (``scikit-learn`` -> ``scikit_learn`` if it exists), else its first
    top-level module (``sklearn``). A distribution's other top-level modules
    (optional extras such as duckdb's ``adbc_driver_duckdb``) are not
    imported: they may need packages nobody asked for."""
    modules = top_level_modules(dist)
    own = dist.lower().replace("-", "_").replace(".", "_")
    for m in modules:
        if m.lower() == own:
            return m
    return modules[0] if modules else None


def _try(module):
    import importlib

    try:
        importlib.import_module(module)
        return None
    except BaseException as exc:  # noqa: B902 - a package may raise anything at import
        return f"{type(exc).__name__}: {exc}"


def check(dists):
    failures = []
    for dist, module in [("pyarrow", "pyarrow"), ("tarn", "tarn._worker")]:
        err = _try(module)
        if err:
            failures.append({"dist": dist, "module": module, "error": err})
    if not failures:
        for dist in dists:
            module = main_module(dist)
            err = module and _try(module)
            if err:
                failures.append({"dist": dist, "module": module, "error": err})
    return {"ok": not failures, "pyarrow": _version("pyarrow"), "numpy": _version("numpy"), "failures": failures}


if __name__ == "__main__":
    print(json.dumps(check(sys.argv[1:])))
