"""LogEntry conversions between protobuf (how entries are stored) and the REST JSON shape.

The store keeps each entry as its serialized protobuf: ingest then needs no per-field Python
work, which is what makes >20,000 entries/s possible (converting to JSON at ingest measured
about 45 µs per entry, capping the server near 18,000/s before gRPC and the client took their
share). Entries become REST JSON dicts only when read: to evaluate a filter, or to answer over
REST. The generic ``json_format.MessageToDict`` costs about 80 µs per typical entry, so the
common fields are converted by hand and only the rare nested ones (``httpRequest``,
``operation``, ``protoPayload``...) go through ``json_format``, which keeps their exact JSON.

Numbers in ``jsonPayload`` travel as doubles (``google.protobuf.Struct``); like Google's own
JSON rendering, integral ones are written without a fraction (``1``, not ``1.0``).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

# Imported for their side effect: they put RequestLog and AuditLog, the protoPayload types
# Google's own services write, into the default descriptor pool.
import google.cloud.appengine_logging
import google.cloud.audit.audit_log_pb2  # noqa: F401
from google.cloud.logging_v2.types import LogEntry
from google.logging.type import log_severity_pb2
from google.protobuf import descriptor_pool, json_format, struct_pb2

from observability.emulator.errors import json_type_name

LogEntryPb = LogEntry.pb()
"""The raw protobuf class of ``google.logging.v2.LogEntry`` (fast, no proto-plus wrapper)."""

SEVERITY_NUMBERS: dict[str, int] = dict(log_severity_pb2.LogSeverity.items())
"""Severity name -> number (DEFAULT 0 ... EMERGENCY 800); the order filters compare by."""

_SEVERITY_NAMES = {number: name for name, number in SEVERITY_NUMBERS.items()}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_SAFE_INT = 2**53
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?\s*([Zz]|[+-]\d\d:?\d\d)"
)

# Submessages rare enough in event logs that json_format's speed does not matter for them.
_NESTED_FIELDS = (
    ("http_request", "httpRequest"),
    ("operation", "operation"),
    ("source_location", "sourceLocation"),
    ("split", "split"),
    ("proto_payload", "protoPayload"),
)


class EntryInvalid(ValueError):
    """One entry broke a Cloud Logging rule; the message starts with the offending field."""


def format_timestamp(seconds: int, nanos: int) -> str:
    """RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as Google's JSON mapping writes."""
    moment = _EPOCH + timedelta(seconds=seconds)
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if nanos == 0:
        return text + "Z"
    if nanos % 1_000_000 == 0:
        return f"{text}.{nanos // 1_000_000:03d}Z"
    if nanos % 1000 == 0:
        return f"{text}.{nanos // 1000:06d}Z"
    return f"{text}.{nanos:09d}Z"


def parse_timestamp_ns(text: str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 time, or None if it is not one.

    Accepts the offsets people and clients write: ``Z``, ``+01:00`` and ``+0000`` (the
    hand-written client's default 24 h filter uses the last form).
    """
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    if offset not in ("Z", "z"):
        sign = -1 if offset[0] == "+" else 1
        digits = offset[1:].replace(":", "")
        seconds += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    return seconds * 1_000_000_000 + nanos


def severity_name(number: int) -> str:
    """The name of a LogSeverity number; unknown numbers keep their number as text."""
    return _SEVERITY_NAMES.get(number, str(number))


def _number(value: float) -> float | int | str:
    if not math.isfinite(value):
        # JSON has no NaN/Infinity; proto3 JSON writes them as these strings.
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value.is_integer() and abs(value) < _MAX_SAFE_INT:
        return int(value)
    return value


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return _number(value.number_value)
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    return None


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A ``google.protobuf.Struct`` as a plain dict (several times faster than json_format)."""
    return {key: _value(value) for key, value in struct.fields.items()}


def entry_to_dict(entry: Any) -> dict[str, Any]:
    """A raw ``LogEntry`` protobuf as the REST JSON dict (only fields that are set).

    The entry must have passed ``check_proto_payload``, so that every part has a JSON form.
    """
    out: dict[str, Any] = {}
    if entry.log_name:
        out["logName"] = entry.log_name
    if entry.HasField("resource"):
        resource: dict[str, Any] = {"type": entry.resource.type}
        if entry.resource.labels:
            resource["labels"] = dict(entry.resource.labels)
        out["resource"] = resource
    payload = entry.WhichOneof("payload")
    if payload == "text_payload":
        out["textPayload"] = entry.text_payload
    elif payload == "json_payload":
        out["jsonPayload"] = struct_to_dict(entry.json_payload)
    if entry.HasField("timestamp"):
        out["timestamp"] = format_timestamp(entry.timestamp.seconds, entry.timestamp.nanos)
    if entry.severity:
        out["severity"] = severity_name(entry.severity)
    if entry.insert_id:
        out["insertId"] = entry.insert_id
    if entry.labels:
        out["labels"] = dict(entry.labels)
    if entry.trace:
        out["trace"] = entry.trace
    if entry.span_id:
        out["spanId"] = entry.span_id
    if entry.trace_sampled:
        out["traceSampled"] = True
    for field, key in _NESTED_FIELDS:
        if entry.HasField(field):
            out[key] = json_format.MessageToDict(getattr(entry, field))
    return out


def check_proto_payload(entry: Any) -> None:
    """Refuse a ``protoPayload`` whose type this server does not know, so every stored entry
    can be rendered as JSON (Google too refuses user-defined payload types)."""
    if entry.HasField("proto_payload"):
        name = entry.proto_payload.TypeName()
        try:
            descriptor_pool.Default().FindMessageTypeByName(name)
        except KeyError:
            raise EntryInvalid(f"protoPayload: type {name!r} is not supported") from None


def entry_from_json(data: object, target: Any) -> None:
    """Fill the empty ``LogEntry`` protobuf ``target`` from a REST JSON LogEntry.

    This is the check Google's JSON front end makes before the API sees a request:
    unknown fields, wrong types, bad enum names and malformed timestamps raise
    ``json_format.ParseError``, as do two payloads at once. ``jsonPayload`` goes through
    ``Struct.update``, which is about twice as fast as ``json_format`` for it.
    """
    if not isinstance(data, dict):
        raise json_format.ParseError(f"a LogEntry must be an object, got {json_type_name(data)}")
    payloads = [key for key in ("textPayload", "jsonPayload", "protoPayload") if key in data]
    if len(payloads) > 1:
        raise json_format.ParseError(f"more than one payload: {', '.join(payloads)}")
    rest = dict(data)
    payload = rest.pop("jsonPayload", None)
    json_format.ParseDict(rest, target)
    if payload is not None:
        if not isinstance(payload, dict):
            raise json_format.ParseError(
                f"jsonPayload must be an object, got {json_type_name(payload)}"
            )
        target.json_payload.update(payload)
