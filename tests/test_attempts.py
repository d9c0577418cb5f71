"""Outcome markers (callbacks.attempts): an outcome Airflow reports twice is told once per
machine, a genuinely new one is told even when its ids repeat (a re-created Airflow database
starts run ids and try numbers afresh), and the markers' folder stays bounded."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callbacks import attempts
from callbacks.context import first_run_outcome

KEY = ("etl", "load", "manual__1", -1, 1, "outside")
STARTED = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def markers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "outcomes"
    monkeypatch.setattr(attempts, "SHARED_FOLDER", folder)
    monkeypatch.setattr(attempts, "_pruned_at", None)
    monkeypatch.setattr(attempts, "_outcomes", type(attempts._outcomes)())
    return folder


def _in_another_process() -> None:
    """What a second process of the machine remembers: nothing but the marker files."""
    attempts._outcomes.clear()


def test_a_repeated_report_of_one_try_is_told_once_per_machine() -> None:
    assert attempts.first_outcome(KEY, "task_failed", shared=True, began=STARTED)
    assert not attempts.first_outcome(KEY, "task_failed", shared=True, began=STARTED)
    _in_another_process()
    assert not attempts.first_outcome(KEY, "task_failed", shared=True, began=STARTED)


def test_the_same_ids_with_a_new_start_are_a_new_outcome() -> None:
    """A re-created Airflow database reuses ``manual__...`` ids and try 1."""
    assert attempts.first_outcome(KEY, "task_failed", shared=True, began=STARTED)
    _in_another_process()
    later = STARTED + timedelta(days=3)
    assert attempts.first_outcome(KEY, "task_failed", shared=True, began=later)
    assert not attempts.first_outcome(KEY, "task_failed", shared=True, began=later)


def test_a_run_outcome_is_keyed_by_the_run_s_start() -> None:
    fields = {"dag_id": "etl", "run_id": "scheduled__2026-12-01", "event_type": "dag_run_failed"}
    assert first_run_outcome({**fields, "start_date": STARTED})
    _in_another_process()
    assert not first_run_outcome({**fields, "start_date": STARTED})
    _in_another_process()
    assert first_run_outcome({**fields, "start_date": STARTED + timedelta(hours=1)})


@settings(max_examples=50, deadline=None)
@given(
    began=st.one_of(st.none(), st.datetimes(timezones=st.just(timezone.utc))),
    other=st.one_of(st.none(), st.datetimes(timezones=st.just(timezone.utc))),
)
def test_marker_names_differ_exactly_when_the_start_differs(
    began: datetime | None, other: datetime | None
) -> None:
    same = attempts.marker_name(KEY, began) == attempts.marker_name(KEY, other)
    assert same == (began == other)


def _aged(folder: Path, count: int, age_s: float) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for index in range(count):
        marker = folder / f"old-{age_s}-{index}"
        marker.touch()
        when = time.time() - age_s - index
        os.utime(marker, (when, when))
        made.append(marker)
    return made


def test_markers_older_than_a_day_are_removed(markers: Path) -> None:
    old = _aged(markers, 3, attempts.SHARED_KEPT_S + 60)
    recent = _aged(markers, 2, 60)
    assert attempts.first_outcome(KEY, "task_failed", shared=True, began=STARTED)
    left = set(markers.iterdir())
    assert not left & set(old)
    assert set(recent) <= left and len(left) == 3


def test_the_folder_keeps_at_most_the_newest_markers(
    markers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(attempts, "SHARED_MAX_MARKERS", 10)
    existing = _aged(markers, 25, 60)  # index 0 is the newest
    assert attempts.first_outcome(KEY, "task_failed", shared=True, began=STARTED)
    left = set(markers.iterdir())
    assert set(existing[:10]) <= left and len(left) == 11  # the ten newest and the new one
    # Pruned at most once an hour: a scheduler creating markers does not list them each time.
    _aged(markers, 5, 30)
    _in_another_process()
    assert attempts.first_outcome(KEY, "task_failed", shared=True, began=STARTED + timedelta(1))
    assert len(set(markers.iterdir())) == 17


def test_without_a_usable_folder_the_outcome_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Better a duplicate than a lost failure."""
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setattr(attempts, "SHARED_FOLDER", blocked / "outcomes")
    assert attempts.first_outcome(KEY, "task_failed", shared=True, began=STARTED)
    _in_another_process()
    assert attempts.first_outcome(KEY, "task_failed", shared=True, began=STARTED)
