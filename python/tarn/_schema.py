"""Table schemas: ``tarn.TableSchema``, ``tarn.TableField`` and the column types.

A schema is a class whose fields are its annotated attributes::

    class Trip(tarn.TableSchema):
        pickup_at: tarn.TimestampMicro = tarn.TableField("pickup_at", "when the ride began")
        miles: tarn.Float64
        fare_usd = tarn.TableField("fare amount", type=tarn.Float64, nullable=False)

A field's column name is the ``TableField`` name, else the attribute's; its
type is the annotation, else ``TableField(type=...)``; ``tarn.Any`` accepts
any type. ``tarn.Model("trips", projection_schema=Trip)`` reads only those
columns and checks their types; ``@tarn.model(output_schema=Trip)`` checks a
model's output: exactly those columns, of those types (``nullable=False``:
without nulls), or the step fails naming every column that differs.

Discovery reads schemas statically, like the decorators: a schema must be a
class at module level of the model's file or of a project module it imports
``from``, with literal ``TableField`` arguments and tarn types.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~2 ms of worker start-up; annotations are never evaluated
    from typing import Any as _Any, Dict, List, Optional, Tuple

from ._exceptions import SchemaError

__all__ = [
    "TableSchema",
    "TableField",
    "DataType",
    "Any",
    "Bool",
    "Int32",
    "Int64",
    "Float64",
    "Date32",
    "Date64",
    "TimestampMicro",
    "TimestampNano",
    "TimestampMicroUTC",
    "TimestampNanoUTC",
    "String",
    "Binary",
    "TYPES",
    "check_table",
    "schema_columns",
    "describe",
]


class DataType:
    """A column type of a :class:`TableSchema`: the Arrow types it accepts are ``arrow``."""

    arrow: Tuple[str, ...] = ()  # str(pyarrow type) of every accepted type; () accepts any

    @classmethod
    def accepts(cls, arrow_type: _Any) -> bool:
        if not cls.arrow:
            return True
        text = str(arrow_type)
        if text.startswith("timestamp[") and ", tz=" in text:
            unit, zone = text[len("timestamp[") : -1].split(", tz=")
            if zone in _UTC_NAMES:
                text = f"timestamp[{unit}, tz=UTC]"
        return text in cls.arrow


_UTC_NAMES = ("UTC", "utc", "Etc/UTC", "+00:00", "Z", "GMT")


def _type(name: str, doc: str, *arrow: str) -> type:
    return type(name, (DataType,), {"__doc__": doc, "arrow": arrow, "__module__": "tarn"})


Any = _type("Any", "Any type: the column only has to exist.")
Bool = _type("Bool", "A boolean column (Arrow bool).", "bool")
Int32 = _type("Int32", "A 32-bit integer column (Arrow int32).", "int32")
Int64 = _type("Int64", "A 64-bit integer column (Arrow int64).", "int64")
Float64 = _type("Float64", "A double column (Arrow double).", "double")
Date32 = _type("Date32", "A date column in days (Arrow date32).", "date32[day]")
Date64 = _type("Date64", "A date column in milliseconds (Arrow date64).", "date64[ms]")
TimestampMicro = _type("TimestampMicro", "A timestamp without time zone in microseconds.", "timestamp[us]")
TimestampNano = _type("TimestampNano", "A timestamp without time zone in nanoseconds.", "timestamp[ns]")
TimestampMicroUTC = _type("TimestampMicroUTC", "A UTC timestamp in microseconds.", "timestamp[us, tz=UTC]")
TimestampNanoUTC = _type("TimestampNanoUTC", "A UTC timestamp in nanoseconds.", "timestamp[ns, tz=UTC]")
String = _type("String", "A text column (Arrow string or large_string).", "string", "large_string")
Binary = _type("Binary", "A binary column (Arrow binary or large_binary).", "binary", "large_binary")

TYPES: Dict[str, type] = {
    t.__name__: t
    for t in (Any, Bool, Int32, Int64, Float64, Date32, Date64, TimestampMicro, TimestampNano,
              TimestampMicroUTC, TimestampNanoUTC, String, Binary)
}
"""The column types by name, as discovery finds them in annotations."""


class TableField:
    """One column of a :class:`TableSchema`: its name, a description, its type, whether it may hold nulls."""

    __slots__ = ("name", "doc", "type", "nullable")

    def __init__(self, name: Optional[str] = None, doc: Optional[str] = None, type: _Any = None, nullable: bool = True) -> None:  # noqa: A002
        if name is not None and (not isinstance(name, str) or not name):
            raise SchemaError(f"TableField name must be a non-empty string, got {name!r}")
        if doc is not None and not isinstance(doc, str):
            raise SchemaError(f"TableField doc must be a string, got {doc!r}")
        if type is not None and not (isinstance(type, builtin_type) and issubclass(type, DataType)):
            raise SchemaError(f"TableField type must be a tarn type ({', '.join(TYPES)}), got {type!r}")
        if not isinstance(nullable, bool):
            raise SchemaError(f"TableField nullable must be True or False, got {nullable!r}")
        self.name, self.doc, self.type, self.nullable = name, doc, type, nullable

    def __repr__(self) -> str:
        kind = self.type.__name__ if self.type else "?"
        return f"tarn.TableField({self.name!r}, {kind}{'' if self.nullable else ', nullable=False'})"


builtin_type = type


class TableSchema:
    """A table's columns, declared as a class (see the module documentation)."""

    @classmethod
    def fields(cls) -> List[TableField]:
        """The schema's fields in declaration order (inherited ones first), names and types filled in."""
        cached = cls.__dict__.get("_tarn_fields")
        if cached is not None:
            return cached
        found: Dict[str, TableField] = {}
        for klass in reversed(cls.__mro__):
            if klass is TableSchema or not issubclass(klass, TableSchema):
                continue
            annotations = klass.__dict__.get("__annotations__", {})
            attributes = [a for a in klass.__dict__ if isinstance(klass.__dict__[a], TableField)]
            for attr in list(annotations) + [a for a in attributes if a not in annotations]:
                declared = klass.__dict__.get(attr)
                if declared is not None and not isinstance(declared, TableField):
                    continue  # a plain class attribute, not a column
                kind = _resolve(annotations.get(attr), klass) if attr in annotations else None
                if declared is not None and declared.type is not None:
                    kind = declared.type
                if kind is None:
                    raise SchemaError(f"schema {cls.__name__}: field {attr} has no tarn type; annotate it, e.g. {attr}: tarn.Int64")
                name = declared.name if declared is not None and declared.name else attr
                found[attr] = TableField(name, declared.doc if declared else None, kind, declared.nullable if declared else True)
        fields = list(found.values())
        names = [f.name for f in fields]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise SchemaError(f"schema {cls.__name__} declares column {dup!r} twice")
        setattr(cls, "_tarn_fields", fields)
        return fields

    @classmethod
    def column_names(cls) -> List[str]:
        return [f.name for f in cls.fields()]


def _resolve(annotation: _Any, klass: type) -> _Any:
    """A field's annotation as a tarn type (evaluating a string annotation in the class's module)."""
    for _ in range(2):  # a quoted annotation under `from __future__ import annotations` is a string twice
        if not isinstance(annotation, str):
            break
        import sys

        namespace = dict(vars(sys.modules[klass.__module__])) if klass.__module__ in sys.modules else {}
        try:
            annotation = eval(annotation, namespace)  # noqa: S307 - the user's own annotation, in their own module
        except Exception as exc:  # noqa: BLE001
            raise SchemaError(f"schema {klass.__name__}: cannot read the annotation {annotation!r}: {exc}") from None
    metadata = getattr(annotation, "__metadata__", None)  # Annotated[tarn.Int64, ...]
    if metadata is not None:
        annotation = annotation.__origin__
    if isinstance(annotation, builtin_type) and issubclass(annotation, DataType):
        return annotation
    raise SchemaError(f"schema {klass.__name__}: {annotation!r} is not a tarn type ({', '.join(TYPES)})")


def check_table(table: _Any, schema: type, what: str, exact: bool, error: type) -> _Any:
    """Check a pyarrow Table against a schema; return it with the schema's columns, in order.

    ``exact`` (an output): columns the schema does not declare are an error
    too. Every problem is listed in one ``error`` naming ``what``.
    """
    fields = schema.fields()
    have = {f.name: f for f in table.schema}
    problems = []
    for field in fields:
        column = have.get(field.name)
        if column is None:
            problems.append(f"{field.name}: missing")
        elif not field.type.accepts(column.type):
            problems.append(f"{field.name}: is {column.type}, the schema says {field.type.__name__}")
        elif not field.nullable and table.column(field.name).null_count:
            problems.append(f"{field.name}: has {table.column(field.name).null_count} null(s), the schema says nullable=False")
    if exact:
        declared = {f.name for f in fields}
        problems.extend(f"{name}: not in the schema" for name in table.column_names if name not in declared)
    if problems:
        raise error(f"{what} does not match the schema {schema.__name__}: " + "; ".join(problems))
    return table.select([f.name for f in fields])


def schema_columns(schema: _Any, columns: _Any, what: str, other: str) -> List[str]:
    """The column names of ``schema`` given as ``what=`` (refusing ``other=`` alongside it)."""
    if not (isinstance(schema, builtin_type) and issubclass(schema, TableSchema)) or schema is TableSchema:
        raise SchemaError(f"{what} must be a tarn.TableSchema subclass, got {schema!r}")
    if columns is not None:
        raise SchemaError(f"give {what} or {other}, not both ({what} already names the columns)")
    return schema.column_names()


def describe(schema: _Any) -> List[Dict[str, _Any]]:
    """The schema's fields as discovery prints them."""
    return [{"name": f.name, "type": f.type.__name__, "doc": f.doc, "nullable": f.nullable} for f in schema.fields()]
