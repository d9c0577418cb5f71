"""Writing events to Cloud Logging from inside Airflow processes: never raising, never waiting.

``emit(event)`` is all a callback calls. The first call in a process builds the emitter (its
settings, queue and writer thread); a forked child process gets its own, since threads do not
survive a fork.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from observability.emit.emitter import Emitter, EmitterStats, install_exit_hooks

if TYPE_CHECKING:
    from observability.events import Event
    from observability.settings import Settings

_emitter: Emitter | None = None
_emitter_lock = threading.Lock()


@cache
def _disabled() -> bool:
    """``COMPOSER_OBS_ENABLED=false`` switches events off; read without loading the settings."""
    return os.environ.get("COMPOSER_OBS_ENABLED", "").strip().lower() in ("false", "0", "no", "off")


def _settings() -> Settings:
    """Called on the writer thread: a bad value costs a warning and that value alone (its
    default is used), never the events nor the other settings."""
    from observability.settings import load_settings

    return load_settings()


def get_emitter() -> Emitter | None:
    """This process's emitter, built on first use; None when events are switched off."""
    global _emitter
    if _emitter is None and not _disabled():
        with _emitter_lock:
            if _emitter is None:
                _emitter = Emitter(_settings)
                install_exit_hooks(_emitter)
    return _emitter


def emit(event: Event | Mapping[str, Any]) -> None:
    """Queue an event (or its fields, validated later) for Cloud Logging.

    Never raises and never blocks on the network."""
    try:
        emitter = get_emitter()
        if emitter is not None:
            emitter.emit(event)
    except Exception as exc:  # noqa: BLE001 - a callback must never hurt the task
        print(f"composer-observability: event not queued: {exc!r}", file=sys.stderr)


def flush(timeout: float | None = None) -> bool:
    """Deliver or spool everything queued, waiting at most ``timeout`` seconds."""
    emitter = _emitter
    return emitter.flush(timeout) if emitter is not None else True


def _forget_after_fork() -> None:
    """The parent's writer thread is not in the child: the child starts afresh, and the
    parent's emitter, inherited with its exit hooks, must not flush from here."""
    global _emitter, _emitter_lock
    if _emitter is not None:
        _emitter.abandon()
    _emitter = None
    _emitter_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)

__all__ = ["Emitter", "EmitterStats", "emit", "flush", "get_emitter"]
