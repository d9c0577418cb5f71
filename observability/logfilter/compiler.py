"""Turn a parsed filter into nested closures, and the public ``LogFilter``.

Filters are evaluated against every entry that passes through the emulator, log-based
metrics and log alerts, so all the work that does not depend on the entry happens
here, once: paths are split into keys, constants converted to the field's type and
case-folded, regexes compiled, timestamps turned into comparable keys. Evaluating an
entry is then only dictionary lookups and comparisons.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from observability.logfilter.access import Entry
from observability.logfilter.ast import (
    And,
    Comparison,
    FunctionCall,
    GlobalRestriction,
    Node,
    Not,
    Operator,
    Or,
    Value,
)
from observability.logfilter.errors import FilterError
from observability.logfilter.functions import Test, compile_operand, compile_restriction
from observability.logfilter.parser import parse_filter
from observability.logfilter.re2 import Regex, RegexError, compile_re2
from observability.logfilter.schema import MISSING, FieldType
from observability.logfilter.values import (
    SEVERITY_NAMES,
    fold,
    parse_bool,
    parse_duration,
    parse_number,
    parse_severity,
    severity_rank,
    timestamp_key,
    to_bool,
    to_number,
)

ValueTest: TypeAlias = Callable[[Any], bool]

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    ":": operator.eq,  # "has" on a non-string type is equality, per the docs
}
_REGEX_OPS = frozenset({"=~", "!~"})
_REGEX_TYPES = frozenset(
    {FieldType.STRING, FieldType.DYNAMIC, FieldType.SEVERITY, FieldType.TIMESTAMP}
)


class LogFilter:
    """A compiled filter: call ``matches(entry)`` (or the filter itself) per entry.

    Instances are shared through ``compile_filter``'s cache, so they are immutable.
    """

    __slots__ = ("_test", "node", "text")

    def __init__(self, text: str, node: Node, test: Test) -> None:
        self.text = text
        self.node = node
        self._test = test

    def matches(self, entry: Mapping[str, Any]) -> bool:
        """True when the REST-shaped (camelCase) ``entry`` satisfies the filter."""
        return self._test(entry)

    def __call__(self, entry: Mapping[str, Any]) -> bool:
        return self._test(entry)

    def __repr__(self) -> str:
        return f"LogFilter({self.text!r})"


@functools.lru_cache(maxsize=1024)
def compile_filter(text: str) -> LogFilter:
    """Parse and compile ``text`` once; later calls with the same text reuse the result.

    Metrics and alert policies re-evaluate the same few filters on every write, so the
    cache makes compiling effectively free. Raises FilterError for any invalid filter.
    """
    node = parse_filter(text)
    return LogFilter(text, node, compile_node(node, text))


def compile_node(node: Node, text: str) -> Test:
    """Compile a syntax tree; ``text`` is the filter it came from, for error messages."""
    if isinstance(node, And):
        return _all([compile_node(child, text) for child in node.children])
    if isinstance(node, Or):
        return _any([compile_node(child, text) for child in node.children])
    if isinstance(node, Not):
        inner = compile_node(node.child, text)
        return lambda entry: not inner(entry)
    if isinstance(node, Comparison):
        return _comparison(node, text)
    if isinstance(node, GlobalRestriction):
        return _has_test(Constant.of(node.value))
    if isinstance(node, FunctionCall):
        return compile_restriction(node, text)
    raise TypeError(f"not a filter node: {node!r}")


def _all(tests: list[Test]) -> Test:
    if not tests:
        return lambda entry: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda entry: a(entry) and b(entry)
    if len(tests) == 3:
        a, b, c = tests
        return lambda entry: a(entry) and b(entry) and c(entry)
    frozen = tuple(tests)

    def all_of(entry: Entry) -> bool:
        return all(test(entry) for test in frozen)

    return all_of


def _any(tests: list[Test]) -> Test:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda entry: a(entry) or b(entry)
    frozen = tuple(tests)

    def any_of(entry: Entry) -> bool:
        return any(test(entry) for test in frozen)

    return any_of


# --- constants -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Constant:
    """A right-hand-side value converted, once, to every type it may be compared as.

    Each form is None when the conversion fails, which makes comparisons against a
    field of that type false (Cloud Logging: "if a conversion fails, the comparison
    fails"). ``instant`` is set only for a full RFC 3339 date-time.
    """

    text: str
    is_null: bool
    folded: str | None
    number: int | float | None
    boolean: bool | None
    severity: int | None
    timestamp: str | None
    instant: str | None
    duration: int | None

    @classmethod
    def of(cls, value: Value) -> Constant:
        if value.kind == "null":
            return cls(value.text, True, None, None, None, None, None, None, None)
        text = value.text
        return cls(
            text=text,
            is_null=False,
            folded=fold(text),
            number=parse_number(text),
            boolean=parse_bool(text),
            severity=parse_severity(text),
            timestamp=timestamp_key(text, allow_date=True),
            instant=timestamp_key(text),
            duration=parse_duration(text),
        )


# --- comparisons -----------------------------------------------------------------------


def _comparison(node: Comparison, text: str) -> Test:
    operand = compile_operand(node.lhs, text)
    get = operand.get
    if not isinstance(node.rhs, Value):  # field:*  (explicit presence, never defaulted)
        return lambda entry: get(entry) is not MISSING
    test = _value_test(node.op, node.rhs, operand.ftype, node.pos, text)
    default = operand.default
    if default is MISSING:

        def compare_missing_false(entry: Entry) -> bool:
            value = get(entry)
            return value is not MISSING and test(value)

        return compare_missing_false
    when_absent = test(default)

    def compare_defaulted(entry: Entry) -> bool:
        value = get(entry)
        if value is MISSING:
            return when_absent
        return test(value)

    return compare_defaulted


def _value_test(op: Operator, value: Value, ftype: FieldType, pos: int, text: str) -> ValueTest:
    """A predicate on one entry value (lists are ORed over their members)."""
    if op in _REGEX_OPS:
        if ftype not in _REGEX_TYPES:
            raise FilterError(
                f"regular expressions only apply to string fields, not to a {ftype.value}",
                pos,
                text,
            )
        return _regex_test(op == "=~", _compile_pattern(value, text), ftype)
    constant = Constant.of(value)
    if ftype in (FieldType.MESSAGE, FieldType.MAP):
        if op != ":":
            raise FilterError(
                f'a {ftype.value} field can only be tested with ":" (has) or ":*"', pos, text
            )
        return _has_test(constant)
    if ftype in (FieldType.STRING, FieldType.DYNAMIC):
        if op == ":":
            return _has_test(constant)
        return _dynamic_test(op, constant)
    if ftype is FieldType.SEVERITY:
        return _typed_test(op, constant.severity, severity_rank)
    if ftype is FieldType.TIMESTAMP:
        return _typed_test(op, constant.timestamp, _entry_timestamp)
    if ftype is FieldType.DURATION:
        return _typed_test(op, constant.duration, _entry_duration)
    if ftype is FieldType.BOOL:
        return _typed_test(op, constant.boolean, to_bool)
    number = constant.number
    if ftype is FieldType.INT and isinstance(number, float) and not number.is_integer():
        number = None  # "5.5" does not convert to an integer field
    return _typed_test(op, number, to_number)


def _compile_pattern(value: Value, text: str) -> Regex:
    if value.kind == "null":
        raise FilterError("a regular expression must be a string", value.pos, text)
    try:
        return compile_re2(value.text)
    except RegexError as exc:
        raise FilterError(str(exc), value.pos, text) from None


def _regex_test(want: bool, pattern: Regex, ftype: FieldType) -> ValueTest:
    search = pattern.search
    names = SEVERITY_NAMES if ftype is FieldType.SEVERITY else {}

    def test(value: Any) -> bool:
        cls = value.__class__
        if cls is str:
            return search(value) is want
        if cls is list:
            return any(test(member) for member in value)
        if cls is int and value in names:  # severity given as a number
            return search(names[value]) is want
        return False

    return test


def _typed_test(op: Operator, constant: Any, convert: Callable[[Any], Any]) -> ValueTest:
    """Comparison on a field of fixed type: convert the entry value, then compare."""
    if constant is None:
        return lambda value: False
    compare = _ORDER[op]

    def test(value: Any) -> bool:
        if value.__class__ is list:
            return any(test(member) for member in value)
        converted = convert(value)
        return converted is not None and compare(converted, constant)

    return test


def _entry_timestamp(value: Any) -> str | None:
    return timestamp_key(value, strict=False) if value.__class__ is str else None


def _entry_duration(value: Any) -> int | None:
    return parse_duration(value) if value.__class__ is str else None


def _dynamic_test(op: Operator, constant: Constant) -> ValueTest:
    """Comparison on a string or payload field: the entry value's JSON type decides.

    Strings compare case-insensitively, or as instants when both sides are full RFC 3339
    timestamps; numbers and booleans compare as such when the constant converts.
    """
    if constant.is_null:
        return _null_test(op)
    compare = _ORDER[op]
    folded, number, boolean, instant = (
        constant.folded,
        constant.number,
        constant.boolean,
        constant.instant,
    )
    if op == "=" and instant is None:

        def equals(value: Any) -> bool:
            cls = value.__class__
            if cls is str:
                return (value.lower() if value.isascii() else fold(value)) == folded
            if cls is int or cls is float:
                return value == number
            if cls is bool:
                return value is boolean
            if cls is list:
                return any(equals(member) for member in value)
            return False

        return equals

    def test(value: Any) -> bool:
        cls = value.__class__
        if cls is str:
            if instant is not None:
                key = timestamp_key(value, strict=False)
                if key is not None:
                    return compare(key, instant)
            return compare(value.lower() if value.isascii() else fold(value), folded)
        if cls is int or cls is float:
            return number is not None and compare(value, number)
        if cls is bool:
            return boolean is not None and compare(value, boolean)
        if cls is list:
            return any(test(member) for member in value)
        return False

    return test


def _null_test(op: Operator) -> ValueTest:
    """``field = NULL_VALUE`` matches a JSON null; ``!=`` any other present value."""
    if op not in ("=", "!="):
        return lambda value: False
    want_null = op == "="

    def test(value: Any) -> bool:
        if value.__class__ is list:
            return any(test(member) for member in value)
        return (value is None) is want_null

    return test


def _has_test(constant: Constant) -> ValueTest:
    """The has operator, applied to a value and everything nested in it.

    Strings contain the constant (case-insensitively); numbers, booleans and null
    equal it. A global restriction is this test applied to the whole entry.
    """
    needle, number, boolean, is_null = (
        constant.folded,
        constant.number,
        constant.boolean,
        constant.is_null,
    )

    def has(value: Any) -> bool:
        cls = value.__class__
        if cls is str:
            return needle is not None and needle in (
                value.lower() if value.isascii() else fold(value)
            )
        if cls is dict:
            return any(has(member) for member in value.values())
        if cls is list:
            return any(has(member) for member in value)
        if cls is int or cls is float:
            return number is not None and value == number
        if cls is bool:
            return value is boolean
        if value is None:
            return is_null
        if isinstance(value, Mapping):
            return any(has(member) for member in value.values())
        return False

    return has
