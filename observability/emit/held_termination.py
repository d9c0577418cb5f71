"""SIGTERM held for the length of the final flush, then handed to whoever asked for it.

A process that ends sends its last events in a bounded flush (``Emitter.close``). On Airflow
2.10 the ``LocalTaskJob`` that watches a task process sees the task's final state in the
database while the process still runs that flush, and sends it SIGTERM two heartbeats later
(a failed task: no grace, unlike ``task_success_overtime`` for a successful one). The task's
SIGTERM handler then raises inside the flush, which stops waiting for delivery and spools
nothing: the task's last events were lost. Holding the signal until the flush has delivered or
spooled (at most ``flush_timeout_s``) and then delivering it keeps both: the events, and the
termination Airflow asked for.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def termination_held() -> Iterator[None]:
    """Hold SIGTERM while the block runs; then restore the handler that was installed and, if
    the signal came meanwhile, deliver it (the handler's exception, if it raises one, is
    printed: the process is ending anyway, and the rest of its exit must still run).

    Only the main thread can set handlers; elsewhere, or when the handler was installed by
    C code (Python cannot put it back), the block runs unprotected."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = signal.getsignal(signal.SIGTERM)
    if previous is None:
        yield
        return
    signal.signal(signal.SIGTERM, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if received:
            try:
                signal.raise_signal(signal.SIGTERM)
            except Exception as exc:  # noqa: BLE001 - e.g. Airflow's AirflowTaskTerminated
                print(f"composer-observability: SIGTERM after the flush: {exc!r}", file=sys.stderr)
