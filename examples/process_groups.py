"""Stopping commands started in process groups (sessions) of their own, and everything they
started: Airflow's components and the task processes they run, for the demo and the tests.

A task process runs in a session of its own and outlives a killed supervisor, so "what they
started" is more than each leader's descendants: the members of the leaders' sessions too, and
whatever else the caller can name (the test clusters mark their processes' environment)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil


def stop_process_groups(
    leaders: Iterable[subprocess.Popen[bytes]],
    timeout: float,
    also: Callable[[], set[psutil.Process]] = set,
) -> None:
    """SIGTERM the group of every leader still running (Airflow's graceful stop), SIGKILL the
    groups of those still running ``timeout`` seconds later, then SIGKILL whatever of theirs is
    still alive (descendants, session members, ``also()``); returns when none is left, raises
    when one survives SIGKILL. Calling it again does nothing. A leader that has exited (a
    crashed component) still names its session: the kernel keeps a session's number from being
    reused while a member of it lives, so what it left behind is found."""
    leaders = list(leaders)

    def theirs() -> set[psutil.Process]:
        return _session_members(leaders) | also()

    seen = theirs()
    for leader in leaders:
        if leader.poll() is None:
            _signal_group(leader.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for leader in leaders:
        try:
            leader.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(leader.pid, signal.SIGKILL)
            leader.wait()
    for _ in range(50):
        left = [one for one in seen | theirs() if _alive(one)]
        if not left:
            return
        for one in left:
            with contextlib.suppress(psutil.Error):
                one.kill()
        time.sleep(0.1)
    raise RuntimeError(f"processes survived SIGKILL: {left}")


def _session_members(leaders: list[subprocess.Popen[bytes]]) -> set[psutil.Process]:
    """Every live process but the leaders themselves (``Popen`` owns those) in their sessions or
    descending from them (a task whose supervisor died is no one's descendant any more).
    ``psutil`` objects, so that a PID reused meanwhile by another process is never killed."""
    sessions = {leader.pid for leader in leaders}
    found = set()
    for one in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError, ValueError):
            if one.pid not in sessions and one.pid != os.getpid() and _session(one.pid) in sessions:
                found.add(one)
    for leader in leaders:
        if leader.poll() is None:  # not reaped: its PID is not another process's yet
            with contextlib.suppress(psutil.Error):
                found.update(psutil.Process(leader.pid).children(recursive=True))
    return found


def _alive(process: psutil.Process) -> bool:
    """Running and not a zombie (a killed process its parent has not reaped yet is gone)."""
    with contextlib.suppress(psutil.Error):
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    return False


def _session(pid: int) -> int:
    """The session a process belongs to (``setsid``), from ``/proc/PID/stat``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[3])


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """``PermissionError``: the group's leader is a zombie whose group is empty (macOS)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
