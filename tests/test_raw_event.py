"""Event fields saved by a flush that cannot wait for the writer: JSON, redacted, never failing."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from observability.emit.entry import EntryTarget, to_entry
from observability.emit.raw_event import raw_fields

SECRET = "password=hunter2-very-secret"

_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities included
    st.text(max_size=40),
    st.text(max_size=20).map(lambda text: f"{text} {SECRET} {text}"),
    st.datetimes(timezones=st.just(timezone.utc)),
    st.builds(ValueError, st.just(SECRET)),
)
_values = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(labels=_values, extra=_values)
def test_any_fields_become_redacted_json(labels: Any, extra: Any) -> None:
    saved = raw_fields({"event_type": "task_failed", "labels": labels, "params": extra})
    text = json.dumps(saved, allow_nan=False)
    assert "hunter2" not in text
    assert saved["event_id"]


def test_a_value_nested_past_any_limit_is_kept_as_text() -> None:
    deep: Any = "bottom"
    for _ in range(20_000):
        deep = [deep]
    saved = raw_fields({"event_type": "task_failed", "labels": {"deep": deep}})
    assert isinstance(json.dumps(saved), str)


def test_saved_fields_convert_to_the_entry_the_writer_would_have_sent() -> None:
    try:
        raise ConnectionError(f"upstream refused: {SECRET}")
    except ConnectionError as error:
        fields = {
            "event_type": "task_failed",
            "dag_id": "payments",
            "task_id": "charge",
            "run_id": "manual__1",
            "try_number": 2,
            "timestamp": datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc),
            "exception": error,
        }
    saved = json.loads(json.dumps(raw_fields(fields)))
    entry = to_entry(saved, EntryTarget("p", "composer-observability"), 250_000)
    assert entry["insertId"] == saved["event_id"]
    assert entry["timestamp"].startswith("2026-11-23T10:00:00")
    assert entry["jsonPayload"]["exception"]["type"] == "ConnectionError"
    assert entry["labels"]["try_number"] == "2"
    assert "hunter2" not in json.dumps(entry)
