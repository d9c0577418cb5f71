"""A process that ends with events in the spool leaves a replayer behind to deliver them.

On a busy worker a short task can end before its writer has even loaded the Google client
(seconds of CPU when 30 tasks start at once), or while Cloud Logging still refuses
connections; its final flush is bounded, so its events go to the spool. The writers of later
processes replay the spool, but only a writer that lives on after a delivery does, and at the
end of a burst there may be none: the events would wait, unseen, until the next task on the
machine or an operator. So the ending process starts one small detached process
(``python -m observability.emit.handoff``) that replays the spool until it is empty, trying
again with growing pauses for at most ``replay_after_exit_s``, and then exits.

One replayer per machine and spool: it holds a lock for its life. A process that spooled
starts one only when it can take that lock, that is when none runs; a running replayer lets
the lock go before its last look at the spool, so a file written before a failed attempt to
take the lock is always seen. The replayer runs in a session of its own, so Airflow ending
the task's process group (2.10's ``LocalTaskJob``, 3.x's supervisor) does not end it too.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from observability.file_lock import held_if_free

ENV_LIFETIME = "COMPOSER_OBS_REPLAY_AFTER_EXIT_S"
DEFAULT_LIFETIME_S = 300.0
_FIRST_PAUSE_S = 1.0
_LONGEST_PAUSE_S = 30.0


def _lock_path(spool_dir: Path) -> Path:
    key = hashlib.sha256(str(spool_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"composer-observability-replayer-{key}.lock"


def _replayer_lock(spool_dir: Path) -> contextlib.AbstractContextManager[bool]:
    """The machine's replayer lock for ``spool_dir``: whether it was got at once."""
    return held_if_free(os.open(_lock_path(spool_dir), os.O_RDWR | os.O_CREAT, 0o600))


def lifetime_s(configured: float | None = None) -> float:
    """``replay_after_exit_s`` from the settings if loaded, else from the environment."""
    if configured is not None:
        return configured
    try:
        return max(0.0, float(os.environ.get(ENV_LIFETIME, DEFAULT_LIFETIME_S)))
    except ValueError:
        return DEFAULT_LIFETIME_S


def start_replayer(spool_dir: Path, lifetime: float) -> int | None:
    """Start a detached replayer for ``spool_dir`` unless one runs or ``lifetime`` is 0;
    returns its pid, or None. Never raises (it runs while the process ends)."""
    if lifetime <= 0:
        return None
    try:
        with _replayer_lock(spool_dir) as held:
            if not held:
                return None  # a running replayer looks at the spool again before it exits
        process = subprocess.Popen(
            [sys.executable, "-m", "observability.emit.handoff", str(spool_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, ENV_LIFETIME: str(lifetime)},
        )
    except Exception as exc:  # noqa: BLE001 - the next writer on the machine replays instead
        print(f"composer-observability: replayer not started: {exc!r}", file=sys.stderr)
        return None
    return process.pid


def _replay_until_empty(deadline: float) -> None:
    """Replay every spool of the settings until they are empty or ``deadline`` passes."""
    from observability.emit.replay import replay_spools
    from observability.emit.sink import LoggingSink
    from observability.gcp import Endpoint
    from observability.settings import load_settings

    settings = load_settings()
    endpoint = Endpoint.from_settings(settings)
    sink = LoggingSink(endpoint)
    pause = _FIRST_PAUSE_S
    try:
        while True:
            remaining = deadline - time.monotonic()
            report = replay_spools(settings, sink, endpoint, wait_s=max(0.0, min(remaining, 30)))
            if not report.busy and not report.failed_files:
                return
            if time.monotonic() + pause >= deadline:
                return
            time.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE_S)
    finally:
        sink.close()


def main(spool_dir: Path) -> int:
    """The replayer: holds the lock while it replays, lets it go, and looks once more."""
    from observability.emit.replay import spools
    from observability.settings import load_settings

    deadline = time.monotonic() + lifetime_s()
    try:
        while True:
            with _replayer_lock(spool_dir) as held:
                if not held:
                    return 0  # another replayer took over
                _replay_until_empty(deadline)
            waiting = any(spool.files() for spool in spools(load_settings()))
            if not waiting or time.monotonic() >= deadline:
                return 0
    except Exception as exc:  # noqa: BLE001 - detached: nobody reads this but a debugger
        print(f"composer-observability: replayer failed: {exc!r}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
