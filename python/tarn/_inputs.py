"""Markers used as parameter defaults to declare where a function's inputs come from.

``tarn.Model("taxi_trips", columns=[...], filter="miles > 0")`` names a table
or an upstream model; ``tarn.Parameter("min_miles")`` names a run parameter.
They carry no data: in a tarn run the worker passes the real values as keyword
arguments, and when user code calls the function directly it must pass them.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~2 ms of worker start-up; annotations are never evaluated
    from typing import Any, List, Optional

from . import _validate

__all__ = ["Model", "Parameter"]

_NO_DEFAULT: Any = object()


class Model:
    """An input table: a lake table or another model's output, read as a ``pyarrow.Table``.

    ``columns`` keeps only those columns (in that order); ``projection_schema``
    (a :class:`tarn.TableSchema`) instead keeps the schema's columns and
    checks their types; ``filter`` is a SQL predicate (see
    :mod:`tarn._filter` for the supported syntax) applied before the function
    sees the data; ``ref`` reads the table from another branch, tag or commit
    instead of the run's branch. ``batches=True`` (or an
    ``Iterator[pyarrow.RecordBatch]`` annotation) passes an iterator of
    ``pyarrow.RecordBatch`` instead of a table: memory stays flat in the
    table's size.
    """

    __slots__ = ("name", "columns", "filter", "ref", "projection_schema", "batches")

    def __init__(
        self,
        name: Optional[str] = None,
        columns: Optional[List[str]] = None,
        filter: Optional[str] = None,  # noqa: A002 - the user-facing keyword is "filter"
        ref: Optional[str] = None,
        projection_schema: Any = None,
        batches: bool = False,
    ) -> None:
        if projection_schema is not None:
            from ._schema import schema_columns

            columns = schema_columns(projection_schema, columns, "projection_schema", "columns")
        options = _validate.input_options(name, columns, filter, ref, batches)
        self.name: str = options["name"]
        self.columns: Optional[List[str]] = options["columns"]
        self.filter: Optional[str] = options["filter"]
        self.ref: Optional[str] = options["ref"]
        self.projection_schema: Any = projection_schema
        self.batches: bool = options["batches"]

    def __repr__(self) -> str:
        extra = "".join(
            f", {key}={getattr(self, key)!r}" for key in ("columns", "filter", "ref") if getattr(self, key) is not None
        ) + "".join(", batches=True" for _ in [0] if self.batches
        ) + "".join(
            f", projection_schema={self.projection_schema.__name__}" for _ in [0] if self.projection_schema is not None
        )
        return f"tarn.Model({self.name!r}{extra})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model):
            return NotImplemented
        return all(getattr(self, key) == getattr(other, key) for key in self.__slots__)

    def __hash__(self) -> int:
        return hash((self.name, self.filter, self.ref))


class Parameter:
    """A run parameter, e.g. ``min_miles=tarn.Parameter("min_miles")``.

    ``name`` defaults to the name of the function parameter it is the default
    of. With ``default=`` the parameter is optional, both in a run and when
    the function is called directly.
    """

    __slots__ = ("name", "default")

    def __init__(self, name: Optional[str] = None, default: Any = _NO_DEFAULT) -> None:
        self.name: Optional[str] = _validate.parameter_options(name)["name"]
        self.default: Any = default

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT

    def __repr__(self) -> str:
        args = [repr(self.name)] if self.name is not None else []
        if self.has_default:
            args.append(f"default={self.default!r}")
        return f"tarn.Parameter({', '.join(args)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Parameter):
            return NotImplemented
        return self.name == other.name and self.default == other.default

    def __hash__(self) -> int:
        return hash(self.name)
