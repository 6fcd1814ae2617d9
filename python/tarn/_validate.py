"""Validation of decorator and input arguments, shared by the decorators and
static discovery so both accept and reject exactly the same values.

Each function takes a raw value and returns it normalized, or raises
``ValueError`` / ``TypeError`` with a message that says what is wrong and
what to write instead. Standard library only; runs on Python >= 3.9.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~2 ms of worker start-up; annotations are never evaluated
    from typing import Any, Dict, List, Optional

STRATEGIES = ("NONE", "REPLACE", "APPEND", "OVERWRITE_PARTITIONS")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?\Z")
_PYTHON_VERSION = re.compile(r"3\.\d+(\.\d+)?\Z")
_MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*\Z")
_MEMORY_UNITS = {  # the same units, with the same meaning, as the Go side's ParseBytes
    "": 1,
    "b": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
}


def _type_name(value: Any) -> str:
    return type(value).__name__


def table_name(value: Any, what: str = "name") -> str:
    """A model, expectation or table name: ``table`` or ``namespace.table``."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {_type_name(value)} {value!r}")
    if not _NAME.match(value):
        raise ValueError(
            f"{what} {value!r} is not a valid name: use letters, digits and "
            "underscores, optionally prefixed by a namespace ('sales.orders')"
        )
    return value


def optional_name(value: Any, what: str = "name") -> Optional[str]:
    return None if value is None else table_name(value, what)


def strategy(value: Any) -> str:
    """A materialization strategy, case-insensitive, returned upper-case."""
    valid = ", ".join(STRATEGIES)
    if not isinstance(value, str):
        raise TypeError(f"materialization_strategy must be a string, one of {valid}; got {value!r}")
    upper = value.strip().upper()
    if upper not in STRATEGIES:
        raise ValueError(f"unknown materialization_strategy {value!r}; valid strategies: {valid}")
    return upper


CACHE_STRATEGIES = ("AUTO", "NONE")


def cache_strategy_value(value: Any) -> str:
    """A cache strategy, case-insensitive, returned upper-case."""
    valid = ", ".join(CACHE_STRATEGIES)
    if not isinstance(value, str) or value.strip().upper() not in CACHE_STRATEGIES:
        raise ValueError(f"unknown cache_strategy {value!r}; valid strategies: {valid}")
    return value.strip().upper()


def string_list(value: Any, what: str, allow_str: bool = False) -> Optional[List[str]]:
    """A list of non-empty, distinct strings (a tuple is accepted). ``None`` stays ``None``.

    With ``allow_str`` a single string is accepted and becomes a one-item list.
    """
    if value is None:
        return None
    if allow_str and isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        hint = "a string or a list of strings" if allow_str else "a list of strings"
        raise TypeError(f"{what} must be {hint}, got {_type_name(value)} {value!r}")
    items = list(value)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise TypeError(f"{what} must contain non-empty strings, got {item!r}")
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        raise ValueError(f"{what} lists {', '.join(duplicates)} more than once")
    return items


def optional_string(value: Any, what: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{what} must be a non-empty string, got {value!r}")
    return value


def boolean(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return value


def python_version(value: Any) -> Optional[str]:
    """``"3.11"`` or ``"3.11.7"``; ``None`` means the default interpreter."""
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError(
            f"python version must be a string such as '3.11', got the number {value!r} "
            "(a number cannot tell 3.10 from 3.1)"
        )
    if not isinstance(value, str) or not _PYTHON_VERSION.match(value.strip()):
        raise ValueError(f"python version must look like '3.11' or '3.11.7', got {value!r}")
    return value.strip()


def pip_packages(value: Any) -> Dict[str, str]:
    """``{"pandas": "2.2.3"}``: package name to version (``None`` means none)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"pip must be a dict of package name to version such as {{'pandas': '2.2.3'}}, got {value!r}")
    packages = {}
    for package, version in value.items():
        if not isinstance(package, str) or not package.strip():
            raise TypeError(f"pip package names must be non-empty strings, got {package!r}")
        if not isinstance(version, str) or not version.strip():
            raise TypeError(f"pip version of {package!r} must be a string such as '2.2.3', got {version!r}")
        packages[package.strip()] = version.strip()
    return packages


def memory_bytes(value: Any) -> Optional[int]:
    """Parse ``"4GiB"``, ``"512MiB"``, ``"2GB"``, ``"1g"`` or a number of bytes.

    ``KiB/MiB/GiB`` and the single letters ``K/M/G`` are powers of 1024 (as
    in Docker); ``KB/MB/GB`` are powers of 1000. Case does not matter.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"memory must be a string such as '4GiB' or a number of bytes, got {value!r}")
    if isinstance(value, int):
        number, unit = float(value), ""
    else:
        match = _MEMORY.match(value)
        if not match or match.group(2).lower() not in _MEMORY_UNITS:
            raise ValueError(f"memory {value!r} is not a size; write e.g. '512MiB', '4GiB' or '2GB'")
        number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * _MEMORY_UNITS[unit])
    if size <= 0:
        raise ValueError(f"memory must be more than 0 bytes, got {value!r}")
    return size


def timeout_seconds(value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {value!r}")
    return value


# Whole argument sets, one per decorator or input type. Each returns the
# normalized options as a plain dict (the shape discovery prints as JSON).


def model_options(
    name: Any = None,
    columns: Any = None,
    materialization_strategy: Any = "NONE",
    partitioned_by: Any = None,
    overwrite_filter: Any = None,
    internet_access: Any = False,
    cache_strategy: Any = "AUTO",
) -> Dict[str, Any]:
    partitions = string_list(partitioned_by, "partitioned_by", allow_str=True)
    return {
        "name": optional_name(name, "model name"),
        "materialization_strategy": strategy(materialization_strategy),
        "partitioned_by": partitions or None,
        "overwrite_filter": optional_string(overwrite_filter, "overwrite_filter"),
        "internet_access": boolean(internet_access, "internet_access"),
        "columns": string_list(columns, "columns"),
        "cache_strategy": cache_strategy_value(cache_strategy),
    }


def expectation_options(name: Any = None) -> Dict[str, Any]:
    return {"name": optional_name(name, "expectation name")}


def python_options(version: Any = None, pip: Any = None) -> Dict[str, Any]:
    return {"version": python_version(version), "pip": pip_packages(pip)}


def resources_options(memory: Any = None, timeout: Any = None) -> Dict[str, Any]:
    size = memory_bytes(memory)
    return {
        "memory": str(memory) if isinstance(memory, int) else memory,  # always a string, e.g. "4GiB"
        "memory_bytes": size,
        "timeout": timeout_seconds(timeout),
    }


def input_options(name: Any = None, columns: Any = None, filter: Any = None, ref: Any = None, batches: Any = False) -> Dict[str, Any]:
    if name is None:
        raise TypeError("tarn.Model() needs the name of the table or model to read, e.g. tarn.Model('taxi_trips')")
    predicate = optional_string(filter, "filter")
    if predicate is not None:
        from ._filter import parse

        parse(predicate, params=True)  # raises FilterError (a ValueError) on syntax it does not support
    return {
        "name": table_name(name, "input name"),
        "columns": string_list(columns, "columns"),
        "filter": predicate,
        "ref": optional_string(ref, "ref"),
        "batches": boolean(batches, "batches"),
    }


_BATCHES_ANNOTATION = re.compile(r"\b(Iterator|Iterable|Generator)\[\s*[\w.]*RecordBatch\b")


def wants_batches(annotation: Any) -> bool:
    """Whether a parameter's annotation (as text or evaluated) is an iterator of record
    batches: ``Iterator[pa.RecordBatch]`` (typing or collections.abc, also Iterable and
    Generator, and inside ``Annotated[...]``)."""
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return bool(_BATCHES_ANNOTATION.search(text))


def boolean(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return value


def parameter_options(name: Any = None) -> Dict[str, Any]:
    return {"name": optional_name(name, "parameter name")}
