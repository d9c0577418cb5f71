"""Reading back stored entries of any depth (``log_entries.depth``): one the decoders can read
comes back unchanged; a deeper one comes back readable, cut where it was too deep, labelled."""

from __future__ import annotations

from typing import Any

from google.cloud.audit.audit_log_pb2 import AuditLog
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from observability.emulator.log_entries.convert import LogEntryPb
from observability.emulator.log_entries.depth import (
    KEPT_LEVELS,
    TRUNCATED,
    TRUNCATED_LABEL,
    decode_entry,
)

scalars = (
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
)


@st.composite
def chains(draw: st.DrawFn) -> Any:
    """A JSON value nested up to 60 levels (a chain of objects and arrays with scalars)."""
    value: Any = draw(scalars)
    for _ in range(draw(st.integers(0, 60))):
        if draw(st.booleans()):
            value = {draw(st.text(max_size=3)): value, "n": draw(scalars)}
        else:
            value = [value, draw(scalars)]
    return value


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"down": value}
    return value


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def stored(payload: dict[str, Any]) -> bytes:
    entry = LogEntryPb(log_name="projects/p/logs/deep", insert_id="i", severity=500)
    entry.resource.type = "global"
    entry.labels["kept"] = "yes"
    entry.timestamp.FromSeconds(1_800_000_000)
    entry.json_payload.update(payload)
    return entry.SerializeToString()


@settings(max_examples=150, deadline=None)
@given(tree=chains())
def test_any_stored_depth_reads_back(tree: Any) -> None:
    blob = stored({"tree": tree})
    try:
        original = LogEntryPb.FromString(blob)
    except Exception:  # noqa: BLE001 - too deep for the decoder: the case under test
        original = None

    entry = decode_entry(blob)

    again = LogEntryPb.FromString(entry.SerializeToString())  # readable by every decoder
    if original is not None:
        assert entry == original
        return
    payload = json_format.MessageToDict(again.json_payload)
    assert TRUNCATED in str(payload)
    assert depth(payload) <= KEPT_LEVELS
    assert dict(again.labels) == {"kept": "yes", TRUNCATED_LABEL: "jsonPayload"}
    assert (again.log_name, again.insert_id, again.severity) == ("projects/p/logs/deep", "i", 500)
    assert again.timestamp.seconds == 1_800_000_000


def test_a_too_deep_proto_payload_is_left_out_and_said_so() -> None:
    entry = LogEntryPb.FromString(stored({}))
    entry.ClearField("json_payload")
    audit = AuditLog(method_name="deep")
    audit.request.update({"tree": {"down": _nested(60)}})
    entry.proto_payload.Pack(audit)

    cut = decode_entry(entry.SerializeToString())

    assert not cut.HasField("proto_payload")
    assert cut.labels[TRUNCATED_LABEL] == "protoPayload"
