"""The Google client's own default restriction must parse: `list_entries` appends
``timestamp>="...+0000"`` (strftime's %z, no colon) to every filter without a timestamp."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from google.cloud.logging_v2._helpers import _add_defaults_to_filter

from observability.logfilter import compile_filter


def test_the_clients_24_hour_default_matches_recent_entries_only() -> None:
    log_filter = compile_filter(_add_defaults_to_filter('logName="projects/p/logs/x"'))
    now = datetime.now(timezone.utc)
    recent = {"logName": "projects/p/logs/x", "timestamp": now.isoformat().replace("+00:00", "Z")}
    old = {**recent, "timestamp": (now - timedelta(days=2)).isoformat().replace("+00:00", "Z")}
    assert log_filter.matches(recent)
    assert not log_filter.matches(old)


def test_offsets_without_a_colon_shift_like_offsets_with_one() -> None:
    entry = {"timestamp": "2026-11-23T21:37:00Z"}
    assert compile_filter('timestamp="2026-11-23T23:07:00+0130"').matches(entry)
    assert compile_filter('timestamp="2026-11-23T23:07:00+01:30"').matches(entry)
