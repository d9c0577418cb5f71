"""Our threads never take Airflow's signals.

A signal sent to a process (``kill PID``, the ``SIGALRM`` of ``signal.alarm`` that enforces a
task's ``execution_timeout``) is handed by Linux to any thread that does not block it: the
main thread only while it is free to take it. Python runs the handler in the main thread in
any case, but if the kernel picked another thread, the main thread is not interrupted: a task
asleep in ``time.sleep(600)`` or blocked in a socket read sees its 3 s timeout only when that
call returns, minutes later (seen under the real scheduler: a 3 s ``execution_timeout`` that
fired after 376 s). A task process without our threads never has that choice. So each thread
we start blocks the asynchronous signals before doing anything, and the threads it starts
(the Google client's, gRPC's) inherit the mask.

Faults raised by the thread itself (``SIGSEGV``, ``SIGBUS``, ``SIGFPE``, ``SIGILL``,
``SIGTRAP``, ``SIGSYS``) stay unblocked: they are delivered to the thread that caused them,
and ``faulthandler`` must still see them.
"""

from __future__ import annotations

import signal
from typing import Final

_FAULTS: Final = frozenset(
    getattr(signal, name)
    for name in ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP", "SIGSYS")
    if hasattr(signal, name)
)


def leave_signals_to_the_main_thread() -> None:
    """Block every asynchronous signal in the calling thread (a no-op where the platform has
    no thread signal masks)."""
    if not hasattr(signal, "pthread_sigmask"):
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.valid_signals()) - _FAULTS)
