"""Built-in functions: restrictions (``log_id``, ``source``, ``sample``, ``ip_in_net``,
``SEARCH``) and value functions usable on the left of a comparison (``cast``,
``regexp_extract``).

Each is checked and prepared once at compile time (regexes compiled, subnets parsed,
time zones loaded) so that evaluating it does no parsing of the filter.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeAlias
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from observability.logfilter.access import Entry, Getter, iter_strings, make_getter
from observability.logfilter.ast import Argument, FieldPath, FunctionCall, Value
from observability.logfilter.errors import FilterError
from observability.logfilter.re2 import RegexError, compile_re2
from observability.logfilter.schema import MISSING, FieldType, resolve
from observability.logfilter.textsearch import parse_search_query
from observability.logfilter.values import (
    SEVERITY_NAMES,
    fold,
    format_timestamp,
    parse_duration,
    parse_number,
    scalar_text,
    severity_rank,
    timestamp_key,
    to_bool,
    to_number,
)

Test: TypeAlias = Callable[[Entry], bool]


@dataclass(frozen=True, slots=True)
class Operand:
    """The left side of a comparison, ready to read from entries.

    ``get`` returns the raw value or MISSING; ``default`` is what a defaulted LogEntry
    field compares as when absent (MISSING for payload/label fields and functions).
    """

    get: Getter
    ftype: FieldType
    default: Any


def compile_operand(node: Argument, text: str) -> Operand:
    """Prepare a field path, ``cast(...)`` or ``regexp_extract(...)`` for reading."""
    if isinstance(node, FieldPath):
        field = resolve(node, text)
        return Operand(make_getter(field), field.ftype, field.default)
    if isinstance(node, Value):
        raise FilterError("expected a field name, not a value", node.pos, text)
    if node.name == "cast":
        return _cast(node, text)
    if node.name == "regexp_extract":
        return _regexp_extract(node, text)
    raise FilterError(f"{node.name}() is a restriction, not a value to compare", node.pos, text)


def compile_restriction(call: FunctionCall, text: str) -> Test:
    """Prepare a function used as a restriction (``log_id("x")``, ``SEARCH("x")``...)."""
    builders: dict[str, Callable[[FunctionCall, str], Test]] = {
        "log_id": _log_id,
        "source": _source,
        "sample": _sample,
        "ip_in_net": _ip_in_net,
        "search": _search,
    }
    builder = builders.get(call.name)
    if builder is None:
        raise FilterError(f"{call.name}() gives a value: compare it", call.pos, text)
    return builder(call, text)


def _literal(arg: Argument, text: str, what: str) -> str:
    """Text of an argument written as a string, a number or a bare word."""
    if isinstance(arg, Value) and arg.kind != "null":
        return arg.text
    if isinstance(arg, FieldPath) and len(arg.segments) == 1:
        return arg.segments[0]
    raise FilterError(f"expected {what}", arg.pos, text)


def _string_literal(arg: Argument, text: str, what: str) -> str:
    if isinstance(arg, Value) and arg.kind == "string":
        return arg.text
    raise FilterError(f"expected {what} as a double-quoted string", arg.pos, text)


def _field(arg: Argument, text: str, function: str) -> Operand:
    if not isinstance(arg, FieldPath):
        raise FilterError(f"{function}() needs a field name here", arg.pos, text)
    return compile_operand(arg, text)


# --- restrictions ----------------------------------------------------------------------


def _log_id(call: FunctionCall, text: str) -> Test:
    """log_id takes the plain id; logName holds it URL-encoded after "/logs/"."""
    wanted = fold(_literal(call.args[0], text, "a log id"))

    def test(entry: Entry) -> bool:
        name = entry.get("logName")
        if name.__class__ is not str:
            return False
        index = name.find("/logs/")
        return index != -1 and fold(unquote(name[index + 6 :])) == wanted

    return test


def _source(call: FunctionCall, text: str) -> Test:
    """source(projects/P) matches entries whose logName is directly under that resource."""
    resource = _literal(call.args[0], text, "a resource such as projects/my-project")
    if resource.count("/") != 1 or not all(resource.split("/")):
        raise FilterError(
            f'source() needs TYPE/ID such as "projects/my-project", got "{resource}"',
            call.args[0].pos,
            text,
        )
    prefix = fold(resource) + "/logs/"

    def test(entry: Entry) -> bool:
        name = entry.get("logName")
        return name.__class__ is str and fold(name).startswith(prefix)

    return test


_HASH_RANGE = float(2**64 - 1)


def _sample(call: FunctionCall, text: str) -> Test:
    """Deterministic sampling: a hash of the field's value, scaled to [0, 1], <= fraction."""
    operand = _field(call.args[0], text, "sample")
    fraction_arg = call.args[1]
    fraction = parse_number(fraction_arg.text) if isinstance(fraction_arg, Value) else None
    if fraction is None or math.isnan(fraction) or not 0 < fraction <= 1:
        raise FilterError(
            "sample() needs a fraction greater than 0 and at most 1", fraction_arg.pos, text
        )
    get, default = operand.get, operand.default

    def test(entry: Entry) -> bool:
        value = get(entry)
        if value is MISSING:
            value = default  # defaulted LogEntry fields are sampled by their default
        key = scalar_text(value) if value is not MISSING else None
        if key is None:
            return False
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(digest, "big") / _HASH_RANGE <= fraction

    return test


def _ip_in_net(call: FunctionCall, text: str) -> Test:
    """True when the field holds an address (or range) inside the subnet."""
    get = _field(call.args[0], text, "ip_in_net").get
    subnet_text = _literal(call.args[1], text, "a subnet such as 10.0.0.0/8")
    try:
        subnet = ipaddress.ip_network(subnet_text, strict=False)
    except ValueError:
        raise FilterError(
            f'"{subnet_text}" is not an IP address or range', call.args[1].pos, text
        ) from None

    def inside(value: Any) -> bool:
        if isinstance(value, list):
            return any(inside(member) for member in value)
        if not isinstance(value, str):
            return False
        try:
            return ipaddress.ip_address(value.strip()) in subnet
        except ValueError:
            pass
        try:
            network = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            return False
        return network.version == subnet.version and network.subnet_of(subnet)  # type: ignore[arg-type]

    def test(entry: Entry) -> bool:
        value = get(entry)  # missing or defaulted: false, per the docs
        return value is not MISSING and inside(value)

    return test


def _search(call: FunctionCall, text: str) -> Test:
    """SEARCH(query) over the whole entry, or SEARCH(field, query) over one field."""
    query_arg = call.args[-1]
    query_text = _string_literal(query_arg, text, "the SEARCH() query")
    try:
        query = parse_search_query(query_text)
    except ValueError as exc:
        raise FilterError(str(exc), query_arg.pos, text) from None
    if len(call.args) == 1:

        def search_entry(entry: Entry) -> bool:
            return query.matches(list(iter_strings(entry)))

        return search_entry
    get = _field(call.args[0], text, "SEARCH").get

    def search_field(entry: Entry) -> bool:
        value = get(entry)
        return value is not MISSING and query.matches(list(iter_strings(value)))

    return search_field


# --- value functions -----------------------------------------------------------------

_CAST_TYPES = {
    "STRING": FieldType.STRING,
    "INT64": FieldType.INT,
    "FLOAT64": FieldType.DOUBLE,
    "BOOL": FieldType.BOOL,
    "TIMESTAMP": FieldType.TIMESTAMP,
    "DURATION": FieldType.DURATION,
}

Converter: TypeAlias = Callable[[Any], Any]  # value -> converted value or MISSING


def _cast(call: FunctionCall, text: str) -> Operand:
    """cast(FIELD, TYPE[, TIMEZONE("zone")]): the field's value converted to TYPE."""
    source = compile_operand(call.args[0], text)
    type_name = _literal(call.args[1], text, "a type").upper()
    target = _CAST_TYPES.get(type_name)
    if target is None:
        raise FilterError(
            f"cast() type must be one of {', '.join(_CAST_TYPES)}", call.args[1].pos, text
        )
    zone = None
    if len(call.args) == 3:
        zone = _timezone(call.args[2], text)
        if source.ftype is not FieldType.TIMESTAMP or target is not FieldType.STRING:
            raise FilterError(
                "TIMEZONE() only applies when casting a timestamp to STRING",
                call.args[2].pos,
                text,
            )
    convert = _converter(source.ftype, target, zone)
    return Operand(_converted(source, convert), target, MISSING)


def _timezone(arg: Argument, text: str) -> ZoneInfo:
    if not isinstance(arg, FunctionCall) or arg.name != "timezone":
        raise FilterError('cast()\'s third argument must be TIMEZONE("Area/City")', arg.pos, text)
    name = _string_literal(arg.args[0], text, "a time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FilterError(f'unknown time zone "{name}"', arg.args[0].pos, text) from None


def _converted(source: Operand, convert: Converter) -> Getter:
    get, default = source.get, source.default

    def get_converted(entry: Entry) -> Any:
        value = get(entry)
        if value is MISSING:
            value = default
            if value is MISSING:
                return MISSING
        if isinstance(value, list):
            converted = [c for c in map(convert, value) if c is not MISSING]
            return converted or MISSING
        return convert(value)

    return get_converted


def _converter(source: FieldType, target: FieldType, zone: ZoneInfo | None) -> Converter:
    def to_string(value: Any) -> Any:
        if source is FieldType.TIMESTAMP and isinstance(value, str):
            key = timestamp_key(value)
            return MISSING if key is None else format_timestamp(key, zone)
        if source is FieldType.SEVERITY:
            rank = severity_rank(value)
            return MISSING if rank is None else SEVERITY_NAMES.get(rank, str(rank))
        result = scalar_text(value)
        return MISSING if result is None else result

    def to_int(value: Any) -> Any:
        number = _numeric(value)
        if number is None or math.isnan(number) or math.isinf(number):
            return MISSING
        return int(Decimal(number).to_integral_value(ROUND_HALF_UP))

    def to_double(value: Any) -> Any:
        number = _numeric(value)
        return MISSING if number is None else float(number)

    def to_boolean(value: Any) -> Any:
        flag = to_bool(value)
        if flag is None:
            number = _numeric(value)
            return MISSING if number is None else number != 0
        return flag

    def to_timestamp(value: Any) -> Any:
        key = timestamp_key(value, allow_date=True) if isinstance(value, str) else None
        return MISSING if key is None else key + "Z"

    def to_duration(value: Any) -> Any:
        ok = isinstance(value, str) and parse_duration(value) is not None
        return value if ok else MISSING

    def _numeric(value: Any) -> int | float | None:
        if source is FieldType.SEVERITY:
            return severity_rank(value)
        if value is True or value is False:
            return int(value)
        return to_number(value)

    converters: Mapping[FieldType, Converter] = {
        FieldType.STRING: to_string,
        FieldType.INT: to_int,
        FieldType.DOUBLE: to_double,
        FieldType.BOOL: to_boolean,
        FieldType.TIMESTAMP: to_timestamp,
        FieldType.DURATION: to_duration,
    }
    return converters[target]


def _regexp_extract(call: FunctionCall, text: str) -> Operand:
    """regexp_extract(FIELD, "re with one group"): the group's text of the first match."""
    source = compile_operand(call.args[0], text)
    pattern_arg = call.args[1]
    pattern_text = _string_literal(pattern_arg, text, "a regular expression")
    try:
        pattern = compile_re2(pattern_text)
    except RegexError as exc:
        raise FilterError(str(exc), pattern_arg.pos, text) from None
    if pattern.groups != 1:
        raise FilterError(
            "regexp_extract() needs exactly one capturing group; use (?:...) for others",
            pattern_arg.pos,
            text,
        )

    def extract(value: Any) -> Any:
        subject = scalar_text(value)
        group = pattern.extract(subject) if subject is not None else None
        return MISSING if group is None else group

    return Operand(_converted(source, extract), FieldType.STRING, MISSING)
