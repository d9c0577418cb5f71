"""The LogEntry schema as the filter language sees it.

A filter's field path decides three things, all settled here at compile time:

* the JSON keys to follow in a REST-shaped entry (``json_payload`` -> ``jsonPayload``);
* the field's type, which decides how the right-hand side is converted
  (``severity`` is an ordered enum, ``timestamp`` an instant, ``httpRequest.status``
  an integer, ``jsonPayload.*`` whatever the entry holds);
* what happens when the entry lacks the field. Per the docs, a field defined by the
  LogEntry type is *defaulted* (compared as if present with its proto default: ``""``,
  ``0``, ``false``, severity DEFAULT, the epoch), while a payload or label field is
  *missing* (every comparison on it is false). Anything else is *undefined*: an error.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from observability.logfilter.ast import FieldPath
from observability.logfilter.errors import FilterError


class _Missing:
    """Sentinel for "the entry has no such field" (distinct from a JSON null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = _Missing()


class FieldType(enum.Enum):
    """How values of a field are compared."""

    STRING = "string"
    INT = "integer"
    DOUBLE = "double"  # only as the result of cast(..., FLOAT64)
    BOOL = "bool"
    SEVERITY = "severity"
    TIMESTAMP = "timestamp"
    DURATION = "duration"
    MESSAGE = "message"  # a LogEntry sub-message such as httpRequest
    MAP = "map"  # labels, resource.labels: string keys to string values
    DYNAMIC = "dynamic"  # jsonPayload/protoPayload contents: typed by the JSON value


DEFAULTS: dict[FieldType, Any] = {
    FieldType.STRING: "",
    FieldType.INT: 0,
    FieldType.BOOL: False,
    FieldType.SEVERITY: "DEFAULT",
    FieldType.TIMESTAMP: "1970-01-01T00:00:00Z",
    FieldType.DURATION: "0s",
}

_S, _I, _B = FieldType.STRING, FieldType.INT, FieldType.BOOL

# Each entry: JSON key -> type, or a nested mapping for a sub-message.
_Schema: TypeAlias = Mapping[str, "FieldType | _Schema"]

LOG_ENTRY: _Schema = {
    "logName": _S,
    "resource": {"type": _S, "labels": FieldType.MAP},
    "timestamp": FieldType.TIMESTAMP,
    "receiveTimestamp": FieldType.TIMESTAMP,
    "severity": FieldType.SEVERITY,
    "insertId": _S,
    "httpRequest": {
        "requestMethod": _S,
        "requestUrl": _S,
        "requestSize": _I,
        "status": _I,
        "responseSize": _I,
        "userAgent": _S,
        "remoteIp": _S,
        "serverIp": _S,
        "referer": _S,
        "latency": FieldType.DURATION,
        "cacheLookup": _B,
        "cacheHit": _B,
        "cacheValidatedWithOriginServer": _B,
        "cacheFillBytes": _I,
        "protocol": _S,
    },
    "labels": FieldType.MAP,
    "operation": {"id": _S, "producer": _S, "first": _B, "last": _B},
    "trace": _S,
    "spanId": _S,
    "traceSampled": _B,
    "sourceLocation": {"file": _S, "line": _I, "function": _S},
    "split": {"uid": _S, "index": _I, "totalSplits": _I},
    "textPayload": _S,
    "jsonPayload": FieldType.DYNAMIC,
    "protoPayload": FieldType.DYNAMIC,
    "errorGroups": FieldType.DYNAMIC,
    "apphub": FieldType.DYNAMIC,
    "apphubDestination": FieldType.DYNAMIC,
}

# protoPayload holds protocol-buffer messages, whose field names the docs say need not
# keep their case (protoPayload.method_name finds "methodName").
CASE_INSENSITIVE_ROOTS = frozenset({"protoPayload"})


def normalize_name(name: str) -> str:
    """Key under which LogEntry's own field names match: case and "_" are ignored."""
    return name.replace("_", "").lower()


@dataclass(frozen=True, slots=True)
class ResolvedField:
    """Where a field lives in a REST entry and how to compare it."""

    keys: tuple[str, ...]
    ftype: FieldType
    default: Any  # MISSING unless the field is defaulted
    fuzzy_from: int | None = None  # index from which keys match case-insensitively


def resolve(path: FieldPath, filter_text: str) -> ResolvedField:
    """Map a filter's field path onto the LogEntry schema; FilterError if undefined."""
    schema: _Schema = LOG_ENTRY
    keys: list[str] = []
    segments = path.segments
    positions = path.positions or (path.pos,) * len(segments)
    for index, segment in enumerate(segments):
        key = _lookup(schema, segment)
        if key is None:
            where = ".".join(keys) or "a LogEntry"
            known = ", ".join(schema)
            raise FilterError(
                f'unknown field "{segment}" in {where} (known: {known})',
                positions[index],
                filter_text,
            )
        keys.append(key)
        node = schema[key]
        rest = segments[index + 1 :]
        if isinstance(node, FieldType):
            return _leaf(node, tuple(keys), rest, positions[index + 1 :], filter_text)
        if not rest:
            return ResolvedField(tuple(keys), FieldType.MESSAGE, MISSING)
        schema = node
    raise AssertionError("unreachable: a path has at least one segment")


def _lookup(schema: _Schema, name: str) -> str | None:
    if name in schema:
        return name
    wanted = normalize_name(name)
    return next((key for key in schema if normalize_name(key) == wanted), None)


def _leaf(
    ftype: FieldType,
    keys: tuple[str, ...],
    rest: tuple[str, ...],
    rest_positions: tuple[int, ...],
    filter_text: str,
) -> ResolvedField:
    if ftype is FieldType.DYNAMIC:
        fuzzy = len(keys) if keys[0] in CASE_INSENSITIVE_ROOTS else None
        return ResolvedField(keys + rest, FieldType.DYNAMIC, MISSING, fuzzy)
    if ftype is FieldType.MAP:
        if not rest:
            return ResolvedField(keys, FieldType.MAP, MISSING)
        if len(rest) > 1:
            raise FilterError(
                f'{".".join(keys)} values are strings and have no field "{rest[1]}" '
                "(quote a key that contains dots)",
                rest_positions[1],
                filter_text,
            )
        return ResolvedField(keys + rest, FieldType.STRING, MISSING)
    if rest:
        raise FilterError(
            f'{".".join(keys)} is a {ftype.value} and has no field "{rest[0]}"',
            rest_positions[0],
            filter_text,
        )
    return ResolvedField(keys, ftype, DEFAULTS[ftype])
