"""Enum values in dashboard JSON spelled as names, the way Google answers.

The client library's REST transport sends enums as integers (``"plotType": 1``); Google
stores the proto and answers with names (``"LINE"``), so a reader never sees the integer.
The emulator stores JSON, so it rewrites the integers it can place: a walk along the
client's Dashboard descriptor turns each integer in a known enum field into its name and
leaves everything else (unknown fields, unknown values, strings) exactly as sent.
"""

from __future__ import annotations

from typing import Any

from google.cloud.monitoring_dashboard_v1.types import Dashboard
from google.protobuf.descriptor import Descriptor, FieldDescriptor

_DASHBOARD: Descriptor = Dashboard.pb().DESCRIPTOR
_STRUCT_TYPES = frozenset(
    {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}
)


def _enum_name(field: FieldDescriptor, value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        known = field.enum_type.values_by_number.get(value)
        if known is not None:
            return known.name
    return value


def _value(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return _enum_name(field, value)
    if field.type == FieldDescriptor.TYPE_MESSAGE and isinstance(value, dict):
        message = field.message_type
        if message.GetOptions().map_entry:
            value_field = message.fields_by_name["value"]
            return {key: _value(value_field, item) for key, item in value.items()}
        if message.full_name not in _STRUCT_TYPES:
            _walk(message, value)
    return value


def _walk(descriptor: Descriptor, data: dict[str, Any]) -> None:
    fields = {field.json_name: field for field in descriptor.fields}
    fields.update((field.name, field) for field in descriptor.fields)
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            continue
        if isinstance(value, list):
            data[key] = [_value(field, item) for item in value]
        else:
            data[key] = _value(field, value)


def enum_names(dashboard: dict[str, Any]) -> dict[str, Any]:
    """``dashboard`` with integer enum values of known fields replaced by names (in place)."""
    _walk(_DASHBOARD, dashboard)
    return dashboard
