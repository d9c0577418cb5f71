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
from typing import Any, Final

# Imported for their side effect: they put RequestLog and AuditLog, the protoPayload types
# Google's own services write, into the default descriptor pool.
import google.cloud.appengine_logging
import google.cloud.audit.audit_log_pb2  # noqa: F401
from google.cloud.logging_v2.types import LogEntry
from google.logging.type import log_severity_pb2
from google.protobuf import descriptor_pool, json_format, struct_pb2, timestamp_pb2
from google.protobuf.message import DecodeError

from observability.emulator.common.errors import json_type_name

MAX_MESSAGE_DEPTH: Final = 100
"""How deep protobuf messages may nest: the default of upb (Python), C++ and Java decoders."""

LogEntryPb = LogEntry.pb()
"""The raw protobuf class of ``google.logging.v2.LogEntry`` (fast, no proto-plus wrapper)."""

SEVERITY_NUMBERS: dict[str, int] = dict(log_severity_pb2.LogSeverity.items())
"""Severity name -> number (DEFAULT 0 ... EMERGENCY 800); the order filters compare by."""

_SEVERITY_NAMES = {number: name for name, number in SEVERITY_NUMBERS.items()}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z, google.protobuf.Timestamp's range
_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
_MAX_DURATION_SECONDS = 315_576_000_000  # google.protobuf.Duration's range: +-10,000 years
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

    The entry must have passed ``check_renderable``, so that every part has a JSON form.
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
    if entry.HasField("receive_timestamp"):
        received = entry.receive_timestamp
        out["receiveTimestamp"] = format_timestamp(received.seconds, received.nanos)
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


def check_timestamp(value: timestamp_pb2.Timestamp, field: str) -> None:
    """Refuse a Timestamp outside the range the API defines (years 1 to 9999).

    A JSON request cannot hold one, but a protobuf can (seconds are any int64); stored, it
    would fail every later rendering of the entry, and so every list of its project.
    """
    if not _MIN_SECONDS <= value.seconds <= _MAX_SECONDS or not 0 <= value.nanos < 10**9:
        raise EntryInvalid(
            f"{field}: seconds={value.seconds} nanos={value.nanos} is not a valid time "
            "(0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z)"
        )


def check_renderable(entry: Any) -> None:
    """Refuse what could be stored but not rendered as JSON by every later read.

    A ``protoPayload`` must be of a type this server knows (Google too refuses
    user-defined payload types) and, like ``httpRequest.latency``, hold only times and
    durations in their valid range. The other nested fields hold nothing that can fail.
    """
    if entry.HasField("http_request") and entry.http_request.HasField("latency"):
        latency = entry.http_request.latency
        if abs(latency.seconds) > _MAX_DURATION_SECONDS or abs(latency.nanos) >= 10**9:
            raise EntryInvalid(
                f"httpRequest.latency: seconds={latency.seconds} nanos={latency.nanos} is "
                f"not a valid duration (at most {_MAX_DURATION_SECONDS} seconds)"
            )
    if entry.HasField("proto_payload"):
        name = entry.proto_payload.TypeName()
        try:
            descriptor_pool.Default().FindMessageTypeByName(name)
        except KeyError:
            raise EntryInvalid(f"protoPayload: type {name!r} is not supported") from None
        try:
            json_format.MessageToDict(entry.proto_payload)
        except (ValueError, TypeError) as error:
            raise EntryInvalid(f"protoPayload: {error}") from None


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
        try:
            target.json_payload.update(payload)
        except RecursionError:
            raise _too_deep("jsonPayload") from None
    if payloads and payloads[0] != "textPayload":
        _check_depth(target, payloads[0])


def _too_deep(field: str) -> json_format.ParseError:
    return json_format.ParseError(
        f"{field}: nested too deeply; a LogEntry may nest at most {MAX_MESSAGE_DEPTH} "
        "protobuf messages (about 33 levels of objects, or 48 of arrays, in a jsonPayload)"
    )


def _check_depth(entry: Any, field: str) -> None:
    """Refuse an entry built from JSON that the protobuf decoders could not read back.

    Over gRPC, the server's decoder has already refused such a request; from REST JSON the
    message is built in memory, where depth has no limit, so the entry would be stored and
    then break every list of its project (on both transports, and in Google's clients).
    Decoding it once is the exact test of what every reader will do.
    """
    try:
        LogEntryPb.FromString(entry.SerializeToString())
    except DecodeError:
        raise _too_deep(field) from None
