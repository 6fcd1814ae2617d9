"""A small SQL predicate language for ``tarn.Model(filter=...)``.

:func:`parse` turns a predicate into a syntax tree using only the standard
library (static discovery uses it to reject bad filters without pyarrow).
The tree compiles, with literals cast to the types of the columns they are
compared with, either to a ``pyarrow.compute.Expression``
(:func:`to_expression`, for dataset scans) or to a boolean mask computed
directly on a table (:func:`mask`; :func:`apply` filters with it). The worker
uses the mask: evaluating an Expression on a table loads
``pyarrow._dataset``, which imports pandas when it is installed (~0.8 s on
the cold-start path); the compute kernels do not.

Supported, with case-insensitive keywords::

    col = 1   col == 1   col != 'x'   col <> 'x'   col < 2.5   col <= 2   col > 0   col >= 0
    a < b                                  column to column
    NOT p   p AND q   p OR q   (p)
    col IN (1, 2)   col NOT IN ('a', 'b')
    col IS NULL   col IS NOT NULL
    col BETWEEN 1 AND 5   col NOT BETWEEN 1 AND 5
    col LIKE 'abc%'   col NOT LIKE '_x%'   col ILIKE 'ABC%'
    flag   NOT flag                        a boolean column on its own
    literals: 12  -3.5  1e6  'text' ('it''s')  TRUE  FALSE  NULL
              DATE '2024-01-31'  TIMESTAMP '2024-01-31 12:00:00'
    "quoted column"                        for names that are keywords or contain spaces

Comparisons with NULL follow SQL: a row whose predicate is NULL is dropped.

Syntax tree nodes are tuples::

    ("col", name)                       ("lit", value, kind)   kind: number string bool null date timestamp
    ("cmp", op, left, right)            op: = != < <= > >=
    ("and", p, q)  ("or", p, q)  ("not", p)  ("truth", operand)
    ("in", operand, [literal...], negated)      ("null", operand, negated)
    ("between", operand, low, high, negated)    ("like", operand, pattern, negated, ignore_case)
"""

from __future__ import annotations

import datetime as _dt
import re

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~2 ms of worker start-up; annotations are never evaluated
    from typing import Any, List, Optional, Set, Tuple

    Node = Tuple[Any, ...]

from ._exceptions import FilterError

__all__ = ["parse", "columns", "to_expression", "mask", "apply"]


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|<>|!=|==|=|<|>|\(|\)|,|-)
    """,
    re.VERBOSE,
)
_KEYWORDS = {
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "BETWEEN",
    "TRUE",
    "FALSE",
    "DATE",
    "TIMESTAMP",
    "LIKE",
    "ILIKE",
}
_COMPARISONS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _tokenize(text: str) -> List[Tuple[str, Any, int]]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise _error(text, position, f"unexpected character {text[position]!r}")
        kind = match.lastgroup
        value = match.group()
        if kind == "string":
            tokens.append(("string", value[1:-1].replace("''", "'"), position))
        elif kind == "quoted":
            tokens.append(("ident", value[1:-1].replace('""', '"'), position))
        elif kind == "word":
            upper = value.upper()
            tokens.append(("kw", upper, position) if upper in _KEYWORDS else ("ident", value, position))
        elif kind in ("number", "op"):
            tokens.append((kind, value, position))
        position = match.end()
    tokens.append(("end", None, len(text)))
    return tokens


def _error(text: str, position: int, detail: str) -> FilterError:
    return FilterError(f"filter {text!r}: {detail} at position {position + 1}")


class _Parser:
    """Recursive descent: or > and > not > predicate > operand."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self, offset: int = 0) -> Tuple[str, Any, int]:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def take(self) -> Tuple[str, Any, int]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, kind: str, value: Any = None) -> bool:
        token = self.peek()
        if token[0] == kind and (value is None or token[1] == value):
            self.index += 1
            return True
        return False

    def expect(self, kind: str, value: Any, what: str) -> None:
        if not self.accept(kind, value):
            self.fail(f"expected {what}")

    def fail(self, detail: str) -> None:
        kind, value, position = self.peek()
        found = "end of filter" if kind == "end" else repr(value if kind != "string" else f"'{value}'")
        raise _error(self.text, position, f"{detail}, found {found}")

    def parse(self) -> Node:
        if self.peek()[0] == "end":
            raise FilterError('filter is empty; remove it or write a predicate such as "miles > 0"')
        node = self.disjunction()
        if self.peek()[0] != "end":
            self.fail("expected AND, OR or the end of the filter")
        return node

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.accept("kw", "OR"):
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.accept("kw", "AND"):
            node = ("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.accept("kw", "NOT"):
            return ("not", self.negation())
        return self.predicate()

    def predicate(self) -> Node:
        if self.accept("op", "("):
            node = self.disjunction()
            self.expect("op", ")", "')'")
            return node
        left = self.operand()
        kind, value, _ = self.peek()
        if kind == "op" and value in _COMPARISONS:
            self.take()
            return ("cmp", _COMPARISONS[value], left, self.operand())
        if self.accept("kw", "IS"):
            negated = self.accept("kw", "NOT")
            self.expect("kw", "NULL", "NULL after IS")
            return ("null", left, negated)
        negated = self.accept("kw", "NOT")
        if self.accept("kw", "IN"):
            return ("in", left, self.literal_list(), negated)
        if self.accept("kw", "BETWEEN"):
            low = self.operand()
            self.expect("kw", "AND", "AND in BETWEEN ... AND ...")
            return ("between", left, low, self.operand(), negated)
        if self.peek()[0] == "kw" and self.peek()[1] in ("LIKE", "ILIKE"):
            ignore_case = self.take()[1] == "ILIKE"
            pattern = self.literal()
            if pattern[2] != "string":
                self.fail("expected a 'pattern' string after LIKE")
            return ("like", left, pattern[1], negated, ignore_case)
        if negated:
            self.fail("expected IN, BETWEEN or LIKE after NOT")
        return ("truth", left)

    def literal_list(self) -> List[Node]:
        self.expect("op", "(", "'(' after IN")
        values = [self.literal()]
        while self.accept("op", ","):
            values.append(self.literal())
        self.expect("op", ")", "')' or ',' in the IN list")
        return values

    def operand(self) -> Node:
        if self.peek()[0] == "ident":
            return ("col", self.take()[1])
        return self.literal()

    def literal(self) -> Node:
        kind, value, position = self.peek()
        if kind == "number" or (kind == "op" and value == "-" and self.peek(1)[0] == "number"):
            negative = self.accept("op", "-")
            text = self.take()[1]
            number = float(text) if any(c in text for c in ".eE") else int(text)
            return ("lit", -number if negative else number, "number")
        if kind == "string":
            self.take()
            return ("lit", value, "string")
        if kind == "kw" and value in ("TRUE", "FALSE"):
            self.take()
            return ("lit", value == "TRUE", "bool")
        if kind == "kw" and value == "NULL":
            self.take()
            return ("lit", None, "null")
        if kind == "kw" and value in ("DATE", "TIMESTAMP"):
            self.take()
            text_kind, text, text_position = self.peek()
            if text_kind != "string":
                self.fail(f"expected a quoted value after {value}")
            self.take()
            try:
                if value == "DATE":
                    return ("lit", _dt.date.fromisoformat(text.strip()), "date")
                return ("lit", _parse_timestamp(text), "timestamp")
            except ValueError:
                raise _error(self.text, text_position, f"{value} '{text}' is not a valid {value.lower()}") from None
        self.fail("expected a column name or a literal value")
        raise AssertionError("unreachable")


def _parse_timestamp(text: str) -> _dt.datetime:
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return _dt.datetime.fromisoformat(text)


def parse(text: str) -> Node:
    """Parse a predicate; raise :class:`FilterError` naming the filter on any syntax it does not support."""
    if not isinstance(text, str):
        raise FilterError(f"filter must be a string, got {text!r}")
    return _Parser(text).parse()


def columns(node: Node) -> Set[str]:
    """The column names a syntax tree refers to."""
    if node[0] == "col":
        return {node[1]}
    found: Set[str] = set()
    for child in node[1:]:
        if isinstance(child, tuple):
            found |= columns(child)
        elif isinstance(child, list):
            for item in child:
                found |= columns(item)
    return found


def _checked(text: str, schema: Any) -> Node:
    node = parse(text)
    missing = sorted(columns(node) - set(schema.names))
    if missing:
        raise FilterError(
            f"filter {text!r} refers to {', '.join(missing)}, which the input does not have "
            f"(columns: {', '.join(schema.names)})"
        )
    return node


def to_expression(text: str, schema: Any) -> Any:
    """Translate a predicate into a ``pyarrow.compute.Expression`` over ``schema``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    result = _Compiler(text, schema, pa, pc, pc.field).predicate(_checked(text, schema))
    return result if isinstance(result, pc.Expression) else pc.scalar(result)


def mask(text: str, table: Any) -> Any:
    """Evaluate a predicate on ``table``: a boolean ChunkedArray (or a Scalar if no column is involved)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return _Compiler(text, table.schema, pa, pc, table.column).predicate(_checked(text, table.schema))


class _Compiler:
    """Builds the expression. Literals become Arrow scalars built from raw
    buffers rather than from Python objects: pyarrow's Python-object
    conversion imports pandas when it is installed (~0.7 s), and filters run
    before user code, on the worker's cold-start path."""

    def __init__(self, text: str, schema: Any, pa: Any, pc: Any, column: Any) -> None:
        self.text, self.schema, self.pa, self.pc = text, schema, pa, pc
        self.column = column  # name -> pc.field(name) or the table's column

    def predicate(self, node: Node) -> Any:
        # Only pc functions: they build Expressions from Expressions and
        # compute arrays from arrays. and/or are Kleene (SQL) logic.
        pc = self.pc
        tag = node[0]
        if tag == "and":
            return pc.and_kleene(self.predicate(node[1]), self.predicate(node[2]))
        if tag == "or":
            return pc.or_kleene(self.predicate(node[1]), self.predicate(node[2]))
        if tag == "not":
            return pc.invert(self.predicate(node[1]))
        if tag == "truth":
            return self.operand(node[1], None)
        if tag == "cmp":
            _, op, left, right = node
            return _COMPARE[op](pc)(self.operand(left, right), self.operand(right, left))
        if tag == "null":
            value = self.operand(node[1], None)
            return pc.is_valid(value) if node[2] else pc.is_null(value)
        if tag == "between":
            _, operand, low, high, negated = node
            value = self.operand(operand, low)
            inside = pc.and_kleene(
                pc.greater_equal(value, self.operand(low, operand)),
                pc.less_equal(value, self.operand(high, operand)),
            )
            return pc.invert(inside) if negated else inside
        if tag == "in":
            _, operand, literals, negated = node
            value = self.operand(operand, None)
            value_set = self.value_set(operand, literals)
            # SQL: NULL IN (...) is NULL (the row is dropped, also under NOT).
            unknown = self.pa.nulls(1, self.pa.bool_())[0]
            member = pc.if_else(pc.is_null(value), unknown, pc.is_in(value, value_set=value_set))
            return pc.invert(member) if negated else member
        if tag == "like":
            _, operand, pattern, negated, ignore_case = node
            match = pc.match_like(self.operand(operand, None), pattern=pattern, ignore_case=ignore_case)
            return pc.invert(match) if negated else match
        raise FilterError(f"filter {self.text!r}: unsupported construct {tag}")

    def column_type(self, node: Optional[Node]) -> Any:
        if node is not None and node[0] == "col":
            return self.schema.field(node[1]).type
        return None

    def operand(self, node: Node, other: Optional[Node]) -> Any:
        """A column reference, or a literal typed for the column it is compared with."""
        if node[0] == "col":
            return self.column(node[1])
        return self.literals([node], self.column_type(other))[0]

    def literals(self, nodes: List[Node], target: Any) -> Any:
        """An Arrow array of literal values, converted to ``target`` where SQL would."""
        pa = self.pa
        kinds = {node[2] for node in nodes}
        values = [node[1] for node in nodes]
        try:
            if kinds == {"null"}:
                return pa.nulls(len(values), target or pa.null())
            if len(kinds) > 1 and kinds != {"number"}:
                raise ValueError(f"mixed literal types {', '.join(sorted(kinds))}")
            kind = kinds.pop()
            if target is not None and pa.types.is_timestamp(target) and kind in ("string", "date", "timestamp"):
                return _timestamps(pa, [_as_datetime(v) for v in values], target.unit, target.tz)
            if target is not None and pa.types.is_date(target) and kind in ("string", "date"):
                dates = [v if kind == "date" else _dt.date.fromisoformat(v.strip()) for v in values]
                return _dates(pa, dates).cast(target)
            if kind == "string":
                strings = _strings(pa, values)
                if target is not None and (pa.types.is_large_string(target) or _is_string_view(pa, target)):
                    return strings.cast(target)
                return strings
            if kind == "number":
                if target is not None and pa.types.is_decimal(target):
                    return _decimals(pa, values)
                return _numbers(pa, values)
            if kind == "bool":
                return pa.Array.from_buffers(pa.bool_(), len(values), [None, _bitmap(pa, values)])
            if kind == "date":
                return _dates(pa, values)
            return _timestamps(pa, values, "us", "UTC" if any(v.tzinfo for v in values) else None)
        except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
            shown = ", ".join(repr(v) for v in values)
            raise FilterError(f"filter {self.text!r}: cannot use {shown} with a {target} column: {exc}") from None

    def value_set(self, operand: Node, literals: List[Node]) -> Any:
        pa = self.pa
        target = self.column_type(operand)
        literals = [item for item in literals if item[2] != "null"]
        if target is not None and pa.types.is_integer(target):
            # 1.5 can never equal an integer; 2.0 can.
            literals = [
                ("lit", int(v), k) if isinstance(v, float) and v.is_integer() else (t, v, k)
                for t, v, k in literals
                if not (isinstance(v, float) and not v.is_integer())
            ]
        if not literals:
            return pa.nulls(0, target or pa.null())
        values = self.literals(literals, target)
        if target is not None and values.type != target:
            try:
                return values.cast(target)
            except pa.ArrowException:
                return values
        return values


# Arrow arrays from Python values without pyarrow's Python-object converter.


def _is_string_view(pa: Any, data_type: Any) -> bool:
    check = getattr(pa.types, "is_string_view", None)  # pyarrow >= 16
    return bool(check and check(data_type))


def _numbers(pa: Any, values: List[Any]) -> Any:
    import struct

    if all(isinstance(v, int) for v in values):
        return pa.Array.from_buffers(
            pa.int64(), len(values), [None, pa.py_buffer(struct.pack(f"<{len(values)}q", *values))]
        )
    floats = [float(v) for v in values]
    return pa.Array.from_buffers(
        pa.float64(), len(values), [None, pa.py_buffer(struct.pack(f"<{len(values)}d", *floats))]
    )


def _strings(pa: Any, values: List[str]) -> Any:
    import struct

    encoded = [v.encode("utf-8") for v in values]
    offsets = [0]
    for item in encoded:
        offsets.append(offsets[-1] + len(item))
    buffers = [None, pa.py_buffer(struct.pack(f"<{len(offsets)}i", *offsets)), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers)


def _decimals(pa: Any, values: List[Any]) -> Any:
    texts = [repr(v) if isinstance(v, float) else str(v) for v in values]
    if any("e" in t.lower() for t in texts):
        return _numbers(pa, values)
    # The smallest decimal type that holds every literal, so comparing with
    # the column's decimal type does not overflow precision 38.
    scale = max(len(t.partition(".")[2]) for t in texts)
    whole = max(len(t.lstrip("-").partition(".")[0]) for t in texts)
    return _strings(pa, texts).cast(pa.decimal128(max(whole + scale, 1), scale))


def _bitmap(pa: Any, values: List[bool]) -> Any:
    data = bytearray((len(values) + 7) // 8)
    for index, value in enumerate(values):
        if value:
            data[index // 8] |= 1 << (index % 8)
    return pa.py_buffer(bytes(data))


def _dates(pa: Any, values: List[_dt.date]) -> Any:
    import struct

    days = [(v - _dt.date(1970, 1, 1)).days for v in values]
    return pa.Array.from_buffers(pa.date32(), len(values), [None, pa.py_buffer(struct.pack(f"<{len(days)}i", *days))])


def _as_datetime(value: Any) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        return value
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day)
    return _parse_timestamp(value)


_PER_SECOND = {"s": 1, "ms": 1000, "us": 1000_000, "ns": 1000_000_000}


def _timestamps(pa: Any, values: List[_dt.datetime], unit: str, tz: Optional[str]) -> Any:
    """Timestamps in ``unit``; naive literals compared with a zoned column are taken as UTC."""
    import struct

    ticks = []
    for value in values:
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        delta = value - _dt.datetime(1970, 1, 1)
        micros = (delta.days * 86400 + delta.seconds) * 1000_000 + delta.microseconds
        ticks.append(micros * 1000 if unit == "ns" else micros // (1000_000 // _PER_SECOND[unit]))
    buffer = pa.py_buffer(struct.pack(f"<{len(ticks)}q", *ticks))
    return pa.Array.from_buffers(pa.timestamp(unit, tz), len(values), [None, buffer])


_COMPARE = {
    "=": lambda pc: pc.equal,
    "!=": lambda pc: pc.not_equal,
    "<": lambda pc: pc.less,
    "<=": lambda pc: pc.less_equal,
    ">": lambda pc: pc.greater,
    ">=": lambda pc: pc.greater_equal,
}


def apply(table: Any, text: str, what: str = "input") -> Any:
    """Filter a pyarrow Table with a predicate; errors name ``what`` and the filter."""
    import pyarrow as pa

    try:
        selection = mask(text, table)
    except FilterError as exc:
        raise FilterError(f"{what}: {exc}") from None
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise FilterError(f"{what}: filter {text!r} cannot be evaluated: {exc}") from None
    if isinstance(selection, pa.Scalar):  # no column involved: all rows or none
        return table if selection.as_py() else table.slice(0, 0)
    return table.filter(selection)
