"""What this process has seen of each task try, so each try's story is told once and whole.

Airflow does not always call callbacks once per outcome: Airflow 2.10 runs the success
callbacks of a task that skipped itself after its skip callbacks, and a DAG may carry both our
callbacks and a ``CloudLoggingNotifier``. And Airflow 2.10 does not always give callbacks the
task's start time. Both are facts about one try in one process (a try's callbacks all run in
the process that ran it), so a small bounded memory per process is enough.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
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


def first_outcome(key: TryKey, event_type: str) -> bool:
    """Record the try's outcome; False if one was already recorded (a repeated callback)."""
    with _lock:
        if key in _outcomes:
            return False
        _remember(_outcomes, key, event_type)
        return True
