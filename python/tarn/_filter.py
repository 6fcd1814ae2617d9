"""The row filter language of ``tarn.Model(filter=...)``.

:func:`parse` turns a filter into a syntax tree using only the standard
library (static discovery uses it to reject bad filters without pyarrow).
The tree compiles, with its columns' types checked and literals converted
to them, either to a ``pyarrow.compute.Expression`` (:func:`to_expression`,
for dataset scans) or to a boolean mask computed directly on a table
(:func:`mask`; :func:`apply` filters with it). The worker uses the mask:
evaluating an Expression on a table loads ``pyarrow._dataset``, which
imports pandas when it is installed (~0.8 s on the cold-start path); the
compute kernels do not.

The Go side (``table/filter.go``) implements the same language with the
same results for lake-table inputs; both are tested against the vectors in
``testdata/filter``. Keywords are case-insensitive, column names are not::

    filter     := or
    or         := and { OR and }
    and        := not { AND not }
    not        := NOT not | predicate
    predicate  := '(' or ')'
                | operand cmp operand              cmp: = == != <> < <= > >=
                | operand IS [NOT] NULL
                | operand [NOT] IN '(' literal { ',' literal } ')'
                | operand [NOT] BETWEEN operand AND operand
                | operand [NOT] LIKE 'pattern'     also ILIKE (case-insensitive)
                | operand                          a boolean column, TRUE, FALSE or NULL
    operand    := column | literal
    column     := name | "quoted name"            "" is a quote inside quotes
    literal    := number | - number | 'text' | TRUE | FALSE | NULL
                | DATE 'YYYY-MM-DD' | TIMESTAMP '...' | TIMESTAMPTZ '...'

Meaning: SQL's three-valued logic; a row is kept only when the predicate is
TRUE (see ``python/README.md`` for the literal conversions and the rest).

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
  | (?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<word>[^\W\d]\w*)
  | (?P<param>\$[^\W\d]\w*)
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
    "TIMESTAMPTZ",
    "LIKE",
    "ILIKE",
}
_COMPARISONS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_INT64 = 1 << 63


def _tokenize(text: str) -> List[Tuple[str, Any, int]]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            char = text[position]
            if char in "'\"":
                what = "string" if char == "'" else "quoted name"
                raise _error(text, position, f"unterminated {what}: end it with {char}")
            raise _error(text, position, f"unexpected character {char!r}")
        kind = match.lastgroup
        value = match.group()
        if kind == "string":
            tokens.append(("string", value[1:-1].replace("''", "'"), position))
        elif kind == "quoted":
            tokens.append(("ident", value[1:-1].replace('""', '"'), position))
        elif kind == "word":
            upper = value.upper()
            tokens.append(("kw", upper, position) if upper in _KEYWORDS else ("ident", value, position))
        elif kind in ("number", "op", "param"):
            tokens.append((kind, value, position))
        position = match.end()
    tokens.append(("end", None, len(text)))
    return tokens


def _error(text: str, position: int, detail: str) -> FilterError:
    return FilterError(f"filter {text!r}: {detail} at position {position + 1}")


class _Parser:
    """Recursive descent: or > and > not > predicate > operand."""

    def __init__(self, text: str, params: bool = False) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.params = params  # $name parses as a placeholder (only a run binds it)

    def peek(self, offset: int = 0) -> Tuple[str, Any, int]:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def take(self) -> Tuple[str, Any, int]:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def accept(self, kind: str, value: Any = None) -> bool:
        token = self.peek()
        if token[0] == kind and (value is None or token[1] == value):
            self.take()
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
            kind, pattern, position = self.peek()
            if kind != "string":
                self.fail("expected a 'pattern' string after LIKE")
            self.take()
            _check_like_pattern(self.text, pattern, position)
            return ("like", left, pattern, negated, ignore_case)
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
        if kind == "param":
            if not self.params:
                raise _error(self.text, position, f"{value} is a run parameter, which only a pipeline run binds to a value")
            self.take()
            return ("lit", None, "null")
        if kind == "number" or (kind == "op" and value == "-" and self.peek(1)[0] == "number"):
            negative = self.accept("op", "-")
            text = self.take()[1]
            return ("lit", _number(text, negative), "number")
        if kind == "string":
            self.take()
            return ("lit", value, "string")
        if kind == "kw" and value in ("TRUE", "FALSE"):
            self.take()
            return ("lit", value == "TRUE", "bool")
        if kind == "kw" and value == "NULL":
            self.take()
            return ("lit", None, "null")
        if kind == "kw" and value in ("DATE", "TIMESTAMP", "TIMESTAMPTZ"):
            self.take()
            text_kind, text, text_position = self.peek()
            if text_kind != "string":
                self.fail(f"expected a quoted value after {value}")
            self.take()
            parsed = _parse_date(text) if value == "DATE" else _parse_timestamp(text)
            if parsed is None:
                what = "date" if value == "DATE" else "timestamp"
                raise _error(self.text, text_position, f"{value} '{text}' is not a valid {what}")
            return ("lit", parsed, "date" if value == "DATE" else "timestamp")
        self.fail("expected a column name or a literal value")
        raise AssertionError("unreachable")


def _number(text: str, negative: bool) -> Any:
    """An int when the number is an integer that fits 64 bits, else a float (as the Go side reads it)."""
    if not any(c in text for c in ".eE"):
        number = -int(text) if negative else int(text)
        if -_INT64 <= number < _INT64:
            return number
    number = float(text)
    return -number if negative else number


def _check_like_pattern(text: str, pattern: str, position: int) -> None:
    escaped = False
    for char in pattern:
        escaped = not escaped and char == "\\"
    if escaped:
        raise _error(
            text, position, f"LIKE pattern {pattern!r} ends with an escape character; write \\\\ for a backslash"
        )


_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(Z|z|[+-][0-9]{2}:[0-9]{2})?)?"
)


def _parse_date(text: str) -> Optional[_dt.date]:
    """YYYY-MM-DD, spaces around allowed; None when it is not a valid date."""
    match = _DATE.fullmatch(text.strip())
    if not match:
        return None
    try:
        return _dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _parse_timestamp(text: str) -> Optional[_dt.datetime]:
    """YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]][Z|+HH:MM]]; digits past microseconds are dropped."""
    match = _TIMESTAMP.fullmatch(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction + "00000")[:6]) if fraction else 0
    try:
        value = _dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micros
        )
        if zone:
            offset = _dt.timedelta(0)
            if zone not in ("Z", "z"):
                hours, minutes = int(zone[1:3]), int(zone[4:6])
                if hours > 23 or minutes > 59:
                    return None
                offset = _dt.timedelta(hours=hours, minutes=minutes) * (1 if zone[0] == "+" else -1)
            value = value.replace(tzinfo=_dt.timezone(offset))
    except ValueError:
        return None
    return value


def parse(text: str, params: bool = False) -> Node:
    """Parse a predicate; raise :class:`FilterError` naming the filter on any syntax it does not support.

    With ``params``, a run parameter ``$name`` parses as a placeholder value
    (to check a declared filter's shape); the run binds each one to a literal
    before the filter is applied.
    """
    if not isinstance(text, str):
        raise FilterError(f"filter must be a string, got {text!r}")
    return _Parser(text, params).parse()


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
    """Builds the expression, checking every column's type against what it
    meets (the same rules and messages as ``table/filter_eval.go``).
    Literals become Arrow arrays built from raw buffers rather than from
    Python objects: pyarrow's Python-object conversion imports pandas when
    it is installed (~0.7 s), and filters run before user code, on the
    worker's cold-start path."""

    def __init__(self, text: str, schema: Any, pa: Any, pc: Any, column: Any) -> None:
        self.text, self.schema, self.pa, self.pc = text, schema, pa, pc
        self.column = column  # name -> pc.field(name) or the table's column

    def fail(self, detail: str) -> FilterError:
        return FilterError(f"filter {self.text!r}: {detail}")

    def predicate(self, node: Node) -> Any:
        # Only pc functions: they build Expressions from Expressions and
        # compute arrays from arrays. and/or are Kleene (SQL) logic.
        pc = self.pc
        tag = node[0]
        if tag == "and":
            return pc.and_kleene(*self.operands(node[1], node[2]))
        if tag == "or":
            return pc.or_kleene(*self.operands(node[1], node[2]))
        if tag == "not":
            return pc.invert(self.predicate(node[1]))
        if tag == "truth":
            return self.truth(node[1])
        if tag == "cmp":
            _, op, left, right = node
            return self.compare(op, left, right)
        if tag == "between":
            _, operand, low, high, negated = node
            inside = pc.and_kleene(self.compare(">=", operand, low), self.compare("<=", operand, high))
            return pc.invert(inside) if negated else inside
        if tag == "null":
            value = self.needs_column("IS NULL", node[1])
            return pc.is_valid(value) if node[2] else pc.is_null(value)
        if tag == "in":
            return self.member(node[1], node[2], node[3])
        if tag == "like":
            _, operand, pattern, negated, ignore_case = node
            keyword = "ILIKE" if ignore_case else "LIKE"
            value = self.needs_column(keyword, operand)
            if self.family(operand) != "string":
                raise self.fail(f"{self.describe(operand)} is not a string column; {keyword} matches strings")
            match = pc.match_like(value, pattern=pattern, ignore_case=ignore_case)
            return pc.invert(match) if negated else match
        raise self.fail(f"unsupported construct {tag}")

    def operands(self, left: Node, right: Node) -> Tuple[Any, Any]:
        """Both sides of AND/OR: a constant side (a Scalar) beside an Expression becomes one
        (pc functions take Scalars with arrays, not with Expressions)."""
        a, b = self.predicate(left), self.predicate(right)
        expression = self.pc.Expression
        if isinstance(a, expression) != isinstance(b, expression):
            a, b = (x if isinstance(x, expression) else self.pc.scalar(x) for x in (a, b))
        return a, b

    def needs_column(self, what: str, node: Node) -> Any:
        if node[0] != "col":
            raise self.fail(f"{what} needs a column on its left, found {_show(node)}")
        return self.column(node[1])

    def family(self, node: Node) -> Optional[str]:
        """What a column's values are compared as (None: not comparable)."""
        pa, data_type = self.pa, self.schema.field(node[1]).type
        types = pa.types
        if types.is_integer(data_type) and data_type != pa.uint64():
            return "int"
        if types.is_float32(data_type) or types.is_float64(data_type):
            return "float"
        if types.is_decimal128(data_type):
            return "decimal"
        if types.is_string(data_type) or types.is_large_string(data_type) or _is_string_view(pa, data_type):
            return "string"
        if types.is_boolean(data_type):
            return "bool"
        if types.is_date(data_type):
            return "date"
        if types.is_timestamp(data_type):
            return "timestamp"
        return None

    def describe(self, node: Node) -> str:
        return f"{_show(node)} ({self.schema.field(node[1]).type})"

    def truth(self, node: Node) -> Any:
        if node[0] == "lit":
            if node[2] == "bool":
                return self.pa.Array.from_buffers(self.pa.bool_(), 1, [None, _bitmap(self.pa, [node[1]])])[0]
            if node[2] == "null":
                return self.pa.nulls(1, self.pa.bool_())[0]
            raise self.fail(f"{_show(node)} is not a condition; compare a column with it, e.g. miles > 1")
        if self.family(node) != "bool":
            raise self.fail(
                f"{self.describe(node)} is not a boolean column; compare it, e.g. {_show(node)} IS NOT NULL"
            )
        return self.column(node[1])

    def compare(self, op: str, left: Node, right: Node) -> Any:
        if left[0] == "lit" and right[0] == "lit":
            raise self.fail(f"{_show(left)} {op} {_show(right)} compares two values; one side must be a column")
        if left[0] == "lit":
            left, right, op = right, left, _FLIPPED[op]
        value = self.column(left[1])
        if right[0] == "col":
            self.check_columns(left, right)
            other = self.column(right[1])
        elif right[2] == "null":
            return self.pa.nulls(1, self.pa.bool_())[0]
        else:
            other = self.literals(left, [right])[0]
        return _COMPARE[op](self.pc)(value, other)

    def check_columns(self, left: Node, right: Node) -> None:
        """Columns compare with columns of the same kind (pyarrow casts between them)."""
        families = {self.family(left), self.family(right)}
        numeric, temporal = {"int", "float", "decimal"}, {"date", "timestamp"}
        if None not in families and (families <= numeric or families <= temporal or len(families) == 1):
            if families == {"timestamp"}:
                zones = {self.schema.field(node[1]).type.tz is None for node in (left, right)}
                if len(zones) > 1:
                    raise self.fail(
                        f"cannot compare {self.describe(left)} with {self.describe(right)}: "
                        "one has a time zone and the other not"
                    )
            return
        raise self.fail(f"cannot compare {self.describe(left)} with {self.describe(right)}")

    def member(self, operand: Node, items: List[Node], negated: bool) -> Any:
        pc, pa = self.pc, self.pa
        value = self.needs_column("IN", operand)
        kinds = sorted({item[2] for item in items if item[2] != "null"})
        if len(kinds) > 1:
            raise self.fail(f"mixed literal types {', '.join(kinds)} in the IN list; use values of one type")
        present = [item for item in items if item[2] != "null"]
        values = self.literals(operand, present) if present else None
        unknown = pa.nulls(1, pa.bool_())[0]
        member = pc.if_else(pc.is_null(value), unknown, pc.is_in(value, value_set=self.value_set(operand, values)))
        if len(present) < len(items):  # x IN (..., NULL) is NULL when x is not listed
            member = pc.or_kleene(member, unknown)
        return pc.invert(member) if negated else member

    def literals(self, column: Node, nodes: List[Node]) -> Any:
        """An Arrow array of literal values converted to what ``column`` is compared as."""
        pa = self.pa
        family, target = self.family(column), self.schema.field(column[1]).type
        kind = nodes[0][2]
        values = [node[1] for node in nodes]
        allowed = {
            "int": ("number",),
            "float": ("number",),
            "decimal": ("number",),
            "string": ("string",),
            "bool": ("bool",),
            "date": ("string", "date", "timestamp"),
            "timestamp": ("string", "date", "timestamp"),
        }
        if kind not in allowed.get(family or "", ()):
            raise self.fail(f"cannot compare {self.describe(column)} with {_show(nodes[0])}")
        if kind == "string" and family in ("date", "timestamp"):
            parse_text = _parse_date if family == "date" else _parse_timestamp
            parsed = [parse_text(v) for v in values]
            for node, item in zip(nodes, parsed):
                if item is None:
                    hint = (
                        "write a date as 'YYYY-MM-DD'"
                        if family == "date"
                        else "write a timestamp as 'YYYY-MM-DD HH:MM:SS' (optionally .ffffff and Z or +HH:MM)"
                    )
                    raise self.fail(f"cannot compare {self.describe(column)} with {_show(node)}: {hint}")
            values, kind = parsed, family
        if family == "timestamp":
            return _timestamps(pa, [_as_datetime(v) for v in values], target.unit, target.tz)
        if family == "date":
            if kind == "date":
                dates = _dates(pa, values)
                return dates.cast(target) if dates.type != target else dates
            # A date column meets a timestamp as midnight (pyarrow casts it).
            return _timestamps(pa, values, "us", "UTC" if any(v.tzinfo for v in values) else None)
        if kind == "string":
            strings = _strings(pa, values)
            return strings.cast(target) if strings.type != target else strings
        if kind == "bool":
            return pa.Array.from_buffers(pa.bool_(), len(values), [None, _bitmap(pa, values)])
        if family == "decimal":
            return _decimals(pa, values)
        return _numbers(pa, values)

    def value_set(self, operand: Node, values: Any) -> Any:
        """The IN list as an array of the column's type, without values no row can equal."""
        pa = self.pa
        target = self.schema.field(operand[1]).type
        if values is None:
            return pa.nulls(0, target)
        family = self.family(operand)
        if family in ("int", "float", "decimal"):
            values = [v for v in values.to_pylist() if _fits(pa, target, family, v)]
            if not values:
                return pa.nulls(0, target)
            if family == "decimal":
                return _strings(pa, [_plain(v) for v in values]).cast(target)
            return _numbers(pa, values).cast(target)
        if family == "date" and pa.types.is_timestamp(values.type):
            # Only a timestamp at midnight can equal a date.
            instants = [_as_utc(v) for v in values.to_pylist()]
            values = _dates(pa, [v.date() for v in instants if v.time() == _dt.time(0)])
        return values.cast(target) if values.type != target else values


def _as_utc(value: _dt.datetime) -> _dt.datetime:
    return value.astimezone(_dt.timezone.utc).replace(tzinfo=None) if value.tzinfo is not None else value


_FLIPPED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _show(node: Node) -> str:
    """A node as the filter would write it, for messages."""
    if node[0] == "col":
        name = node[1]
        if re.fullmatch(r"[^\W\d]\w*", name) and name.upper() not in _KEYWORDS:
            return name
        return '"' + name.replace('"', '""') + '"'
    value, kind = node[1], node[2]
    if kind == "string":
        return "'" + value.replace("'", "''") + "'"
    if kind in ("bool", "null"):
        return str(value).upper() if kind == "bool" else "NULL"
    if kind == "date":
        return f"DATE '{value.isoformat()}'"
    if kind == "timestamp":
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    return repr(value)


def _fits(pa: Any, target: Any, family: str, value: Any) -> bool:
    """Whether a number can equal some value of a numeric column (IN lists hold only those)."""
    import struct

    if family == "int":
        if isinstance(value, float):
            if not value.is_integer():
                return False
            value = int(value)
        bits = target.bit_width
        low, high = (0, 1 << bits) if pa.types.is_unsigned_integer(target) else (-(1 << (bits - 1)), 1 << (bits - 1))
        return low <= value < high
    if family == "float" and pa.types.is_float32(target):
        try:
            return struct.unpack("<f", struct.pack("<f", float(value)))[0] == float(value)
        except OverflowError:
            return False
    if family == "decimal":
        import decimal

        with decimal.localcontext() as context:
            context.prec = 100  # exact for every float's shortest repr
            try:
                scaled = decimal.Decimal(_plain(value)).scaleb(target.scale)
            except decimal.InvalidOperation:
                return False
            return scaled == scaled.to_integral_value() and len(str(abs(int(scaled)))) <= target.precision
    return True


def _plain(value: Any) -> str:
    """A number as plain decimal text: 1e+20 -> 100000000000000000000 (the float's shortest repr, as Go reads it)."""
    import decimal

    if isinstance(value, float):
        value = decimal.Decimal(repr(value))
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


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
    """Numbers compared exactly with a decimal column (as floats when they need more than 38 digits)."""
    if any(isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))) for v in values):
        return _numbers(pa, values)
    texts = [_plain(v) for v in values]
    # The smallest decimal type that holds every literal, so comparing with
    # the column's decimal type does not overflow precision 38.
    scale = max(len(t.partition(".")[2]) for t in texts)
    whole = max(len(t.lstrip("-").partition(".")[0]) for t in texts)
    if whole + scale > 38:
        return _numbers(pa, values)
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
    """A date or timestamp literal as a timestamp (a date at midnight)."""
    if isinstance(value, _dt.datetime):
        return value
    return _dt.datetime(value.year, value.month, value.day)


_PER_SECOND = {"s": 1, "ms": 1000, "us": 1000_000, "ns": 1000_000_000}


def _timestamps(pa: Any, values: List[_dt.datetime], unit: str, tz: Optional[str]) -> Any:
    """Timestamps in ``unit``; naive literals compared with a zoned column are taken as UTC."""
    import struct

    ticks = []
    for value in values:
        delta = _as_utc(value) - _dt.datetime(1970, 1, 1)
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
