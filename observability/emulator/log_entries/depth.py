"""Reading back entries nested deeper than the protobuf decoders allow, cut to a readable depth.

Today a write is refused when its entry nests more than ``MAX_MESSAGE_DEPTH`` protobuf messages
(``convert.entry_from_json``; over gRPC the server's decoder refuses the request). Older
emulators stored such entries from REST JSON (where a message built in memory has no depth
limit), and their data directories still hold them: the decoders refuse the stored bytes, so
every list of the project failed. Such an entry is now read back with the deep part of its
payload cut: a ``jsonPayload`` keeps its first ``KEPT_LEVELS`` levels and each value below is
replaced by ``TRUNCATED``; a ``protoPayload`` (whose schema this module does not walk) is left
out, whether the entry itself or only its payload (packed in an ``Any``) fails to decode.
Either way the label ``emulator.truncated`` names the payload that was cut, so a reader can
tell a cut entry from a written one.

The stored bytes are walked with a small decoder of the protobuf wire format that knows only
the shapes involved (``LogEntry``'s top level, ``google.protobuf.Struct``/``Value``/
``ListValue``), and that never recurses deeper than it keeps.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, Final

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from observability.emulator.log_entries.convert import LogEntryPb

KEPT_LEVELS: Final = 30
"""Levels of objects and arrays kept in a cut ``jsonPayload``: a level costs at most three
nested messages (Struct, its map entry, Value), so 30 stay well inside the decoders' 100."""

TRUNCATED: Final = "[truncated by the emulator: nested deeper than a LogEntry may be]"
TRUNCATED_LABEL: Final = "emulator.truncated"

_PROTO_PAYLOAD: Final = 2  # LogEntry field numbers
_JSON_PAYLOAD: Final = 6
_WIRE_VARINT, _WIRE_FIXED64, _WIRE_BYTES, _WIRE_FIXED32 = 0, 1, 2, 5


def decode_entry(blob: bytes) -> Any:
    """The stored ``LogEntry`` protobuf; one too deep to decode comes back cut (see above)."""
    try:
        entry = LogEntryPb.FromString(blob)
    except DecodeError:
        return _cut(blob)
    drop_undecodable_proto_payload(entry)
    return entry


def drop_undecodable_proto_payload(entry: Any) -> None:
    """Leave out (and label) a ``protoPayload`` too deep to decode.

    A ``protoPayload`` is a ``google.protobuf.Any``: its message travels as bytes, so the
    entry decodes, and only unpacking it (to render JSON, in the server or in a client)
    fails. Only entries with a ``protoPayload`` pay for this extra decode.
    """
    if not entry.HasField("proto_payload"):
        return
    payload = entry.proto_payload
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(payload.TypeName())
    except KeyError:
        return  # refused at write (unknown type): never stored
    try:
        message_factory.GetMessageClass(descriptor).FromString(payload.value)
    except DecodeError:
        entry.ClearField("proto_payload")
        entry.labels[TRUNCATED_LABEL] = "protoPayload"


def _cut(blob: bytes) -> Any:
    kept = bytearray()
    json_payload: bytes | None = None
    proto_payload = False
    for number, raw, value in _fields(blob):
        if number == _JSON_PAYLOAD:
            json_payload = value
        elif number == _PROTO_PAYLOAD:
            proto_payload = True
        else:
            kept += raw
    entry = LogEntryPb.FromString(bytes(kept))
    if json_payload is not None:
        entry.json_payload.update(_struct(json_payload, KEPT_LEVELS))
        entry.labels[TRUNCATED_LABEL] = "jsonPayload"
    elif proto_payload:
        entry.labels[TRUNCATED_LABEL] = "protoPayload"
    return entry


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def _fields(data: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """``(field number, the field's whole encoding, its value bytes)`` of each field, in
    order; the value is the payload of a length-delimited field, else the raw number."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == _WIRE_VARINT:
            value_start = pos
            _, pos = _varint(data, pos)
        elif wire == _WIRE_BYTES:
            length, value_start = _varint(data, pos)
            pos = value_start + length
        elif wire in (_WIRE_FIXED64, _WIRE_FIXED32):
            value_start = pos
            pos += 8 if wire == _WIRE_FIXED64 else 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        if pos > len(data):
            raise DecodeError("truncated field")
        yield key >> 3, data[start:pos], data[value_start:pos]


def _struct(data: bytes, levels: int) -> dict[str, Any]:
    """A ``Struct``'s fields (map entries: key 1, Value 2) as a dict, ``levels`` deep."""
    out: dict[str, Any] = {}
    for number, _, entry in _fields(data):
        if number != 1:
            continue
        key, value = "", None
        for inner, _, part in _fields(entry):
            if inner == 1:
                key = part.decode(errors="replace")
            elif inner == 2:
                value = _value(part, levels)
        out[key] = value
    return out


def _value(data: bytes, levels: int) -> Any:
    """A ``Value``: null 1, number 2, string 3, bool 4, struct 5, list 6 (last one wins)."""
    result: Any = None
    for number, _, part in _fields(data):
        if number == 2:
            (result,) = struct.unpack("<d", part)
        elif number == 3:
            result = part.decode(errors="replace")
        elif number == 4:
            result = _varint(part, 0)[0] != 0
        elif number in (5, 6) and levels <= 1:
            result = TRUNCATED
        elif number == 5:
            result = _struct(part, levels - 1)
        elif number == 6:
            result = [_value(item, levels - 1) for n, _, item in _fields(part) if n == 1]
        elif number == 1:
            result = None
    return result
