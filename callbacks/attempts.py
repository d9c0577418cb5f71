"""What this process has seen of each task try, so each try's story is told once and whole.

Airflow does not always call callbacks once per outcome: Airflow 2.10 runs the success
callbacks of a task that skipped itself after its skip callbacks, and a DAG may carry both our
callbacks and a ``CloudLoggingNotifier``. And Airflow 2.10 does not always give callbacks the
task's start time. Both are facts about one try in one process (a try's callbacks all run in
the process that ran it), so a small bounded memory per process is enough.

Outcomes Airflow reports from outside the task (a lost heartbeat, a kill, a run's end) come
from the scheduler and the DAG processor, and Airflow sometimes reports them twice (Airflow
2.10 detects a killed task again while the DAG processor still handles the first report, and
fails its run twice). Those are remembered across the processes of the machine too, as one
empty file per outcome (``first_outcome(..., shared=True)``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any

TryKey = tuple[Any, ...]
"""(dag_id, task_id, run_id, map_index, try_number)"""

_MAX_TRIES_REMEMBERED = 2_048

_lock = threading.Lock()
_started: OrderedDict[TryKey, datetime] = OrderedDict()
_outcomes: OrderedDict[TryKey, str] = OrderedDict()


def _remember(table: OrderedDict[TryKey, Any], key: TryKey, value: Any) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > _MAX_TRIES_REMEMBERED:
        table.popitem(last=False)


def remember_start(key: TryKey, when: datetime) -> None:
    with _lock:
        _remember(_started, key, when)


def start_of(key: TryKey) -> datetime | None:
    """When this process saw the try start, if it did."""
    with _lock:
        return _started.get(key)


SHARED_FOLDER = Path(tempfile.gettempdir()) / "composer-obs-outcomes"
SHARED_KEPT_S = 86_400
"""How long a marker is kept: Airflow's repeats of one outcome come within minutes."""
SHARED_MAX_MARKERS = 20_000
"""Markers kept at most: the oldest beyond are removed (a few MB of inodes, at worst)."""
PRUNE_EVERY_S = 3_600
_pruned_at: float | None = None


def _prune(now: float) -> None:
    """Remove markers older than ``SHARED_KEPT_S``, and the oldest beyond
    ``SHARED_MAX_MARKERS``; at most once an hour per process (a scheduler lives for weeks)."""
    global _pruned_at
    if _pruned_at is not None and now - _pruned_at < PRUNE_EVERY_S:
        return
    _pruned_at = now
    markers: list[tuple[float, Path]] = []
    for marker in SHARED_FOLDER.iterdir():
        try:
            markers.append((marker.stat().st_mtime, marker))
        except OSError:
            continue
    markers.sort()
    cutoff = now - SHARED_KEPT_S
    excess = len(markers) - SHARED_MAX_MARKERS
    for index, (modified, marker) in enumerate(markers):
        if modified >= cutoff and index >= excess:
            break
        with contextlib.suppress(OSError):
            marker.unlink()


def marker_name(key: TryKey, began: datetime | None) -> str:
    """The marker file of one outcome: its ids and when the try or run began. Ids alone repeat
    (a re-created Airflow database starts ``manual__...`` runs and try numbers afresh, and
    scheduled runs' ids are their dates); a genuinely new try or run has a new start."""
    when = began.isoformat() if began is not None else ""
    return hashlib.sha256(repr((key, when)).encode()).hexdigest()[:32]


def _first_on_this_machine(key: TryKey, began: datetime | None) -> bool:
    """Create the outcome's marker file; False if another process already did."""
    try:
        SHARED_FOLDER.mkdir(parents=True, exist_ok=True)
        _prune(time.time())
        os.close(
            os.open(
                SHARED_FOLDER / marker_name(key, began), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600
            )
        )
    except FileExistsError:
        return False
    except OSError:
        return True  # no shared memory here: better a duplicate than a lost failure
    return True


def first_outcome(
    key: TryKey, event_type: str, shared: bool = False, began: datetime | None = None
) -> bool:
    """Record the outcome; False if it was already recorded (a repeated callback) in this
    process or, when ``shared``, by any process of this machine for the try or run that
    began at ``began`` (its start date, the same in every report Airflow makes of it)."""
    memo = key if began is None else (*key, began)
    with _lock:
        if memo in _outcomes:
            return False
        _remember(_outcomes, memo, event_type)
    return not shared or _first_on_this_machine(key, began)
