"""A command waiting on a service says what it waits for, and gives up in bounded time.

Google's clients retry an unreachable endpoint for up to a minute, silently, then raise a
``RetryError`` whose traceback is a hundred lines; a user sees a frozen terminal. Here the
call runs on a daemon thread while the command's thread reports, after two seconds, what it is
waiting for, and gives up with one line once the service has not answered for the patience
given (``COMPOSER_OBS_API_TIMEOUT_S``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

SHOW_AFTER_S = 2.0
"""Waits shorter than this pass without a word."""
REPEAT_EVERY_S = 5.0


class Unanswered(Exception):
    """The service gave no answer for the whole patience; the message says what to check."""


def exit_abandoning(code: int) -> NoReturn:
    """End the process now, leaving the unanswered call behind: its client's threads (gRPC's
    among them) would otherwise hold the interpreter's exit for several more seconds."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def waiting_for(
    service: str,
    work: Callable[[], T],
    patience: float,
    say: Callable[[str], None],
    last_answer: Callable[[], float] | None = None,
    check: str = "",
) -> T:
    """``work()``'s result (or its exception), reporting the wait on ``say`` and raising
    ``Unanswered`` once ``service`` has been silent ``patience`` seconds. ``last_answer``
    (a ``time.monotonic()`` reading) restarts the patience for work made of many calls."""
    outcome: list[Any] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread as is
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name=f"waiting for {service}", daemon=True).start()
    started = time.monotonic()
    next_report = started + SHOW_AFTER_S
    while not done.wait(0.2):
        now = time.monotonic()
        quiet_since = max(started, last_answer()) if last_answer else started
        if now - quiet_since >= patience:
            raise Unanswered(
                f"{service} did not answer for {patience:g} s"
                + (f": check {check}" if check else "")
            )
        if now >= next_report:
            say(f"waiting for {service} ({now - started:.0f} s, giving up after {patience:g} s)")
            next_report = now + REPEAT_EVERY_S
    if failure:
        raise failure[0]
    return outcome[0]


def answered_or_exit(
    service: str,
    work: Callable[[], T],
    patience: float,
    say: Callable[[str], None],
    fail: Callable[[str], BaseException],
    code: int,
    refusal: Callable[[Exception], str | None],
    last_answer: Callable[[], float] | None = None,
    check: str = "",
) -> T:
    """``waiting_for`` in a command: a wait with no answer, missing Google credentials and any
    error ``refusal`` puts in words end the command with one line, said by ``fail`` (which
    returns the exception to raise); the unanswered call is abandoned with exit ``code``."""
    try:
        return waiting_for(service, work, patience, say, last_answer, check)
    except Unanswered as exc:
        fail(str(exc))
        exit_abandoning(code)
    except Exception as exc:
        problem = refusal(exc)
        if problem is None:
            problem = credentials_problem(exc)
        if problem is None:
            raise
        raise fail(problem) from None


def credentials_problem(exc: BaseException) -> str | None:
    """One line for Google's "no credentials" errors, which otherwise end a command in a
    traceback; None for any other exception."""
    if type(exc).__name__ not in ("DefaultCredentialsError", "RefreshError"):
        return None
    return (
        "no usable Google credentials: run `gcloud auth application-default login` (or set "
        "GOOGLE_APPLICATION_CREDENTIALS), or set COMPOSER_OBS_EMULATOR to use the emulator"
    )
