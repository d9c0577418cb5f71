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
_SHARED_KEPT_S = 86_400
_pruned = False


def _first_on_this_machine(key: TryKey) -> bool:
    """Create the outcome's marker file; False if another process already did. Markers older
    than a day are removed once per process."""
    global _pruned
    SHARED_FOLDER.mkdir(parents=True, exist_ok=True)
    if not _pruned:
        _pruned = True
        cutoff = time.time() - _SHARED_KEPT_S
        for marker in SHARED_FOLDER.iterdir():
            try:
                if marker.stat().st_mtime < cutoff:
                    marker.unlink()
            except OSError:
                continue
    name = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
    try:
        os.close(os.open(SHARED_FOLDER / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    except OSError:
        return True  # no shared memory here: better a duplicate than a lost failure
    return True


def first_outcome(key: TryKey, event_type: str, shared: bool = False) -> bool:
    """Record the outcome; False if it was already recorded (a repeated callback) in this
    process or, when ``shared``, by any process of this machine."""
    with _lock:
        if key in _outcomes:
            return False
        _remember(_outcomes, key, event_type)
    return not shared or _first_on_this_machine(key)
