"""``track_third_party``: one event per call a task makes to a service outside Airflow.

Used as a context manager or a decorator. It times the call, decides the outcome (an exception
whose class says timeout is a timeout, any other exception or an HTTP status of 400 and up is
an error), attaches the running task's identity, and emits a ``third_party_call`` event. It
never swallows the caller's exception and never raises one of its own.

    with track_third_party("stripe", "create_charge", target=url) as call:
        response = httpx.post(url, ...)
        call.status_code = response.status_code
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from contextlib import ContextDecorator
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import wraps
from types import TracebackType
from typing import Any, Literal, TypeVar, cast

_STATUS_ATTRIBUTES = ("status_code", "status", "code")
_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass
class CallRecord:
    """What the caller may tell about the call while it runs."""

    status_code: int | None = None
    target: str | None = None

    def record_response(self, response: Any) -> None:
        """Take the status from an HTTP response object (requests, httpx, aiohttp, urllib)."""
        self.status_code = _status_of(response)


def _status_of(obj: Any) -> int | None:
    for attribute in _STATUS_ATTRIBUTES:
        value = getattr(obj, attribute, None)
        if callable(value):  # grpc errors: code() returns an enum
            try:
                value = value()
            except Exception:  # noqa: BLE001 - not a status accessor after all
                continue
        value = getattr(value, "value", value)
        if isinstance(value, tuple):
            value = value[0]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or any(
        "timeout" in cls.__name__.lower() or "deadline" in cls.__name__.lower()
        for cls in type(exc).__mro__
    )


def _current_task_fields() -> dict[str, Any]:
    """The running task's identity, from Airflow's current context, if there is one; outside
    a task, the host at least (a script's calls are found by where they ran)."""
    if "airflow" not in sys.modules:
        return {"hostname": socket.gethostname()}
    getter: Callable[[], Any]
    try:
        from airflow.sdk import get_current_context  # Airflow 3

        getter = get_current_context
    except ImportError:
        try:
            from airflow.operators.python import get_current_context as airflow2_getter

            getter = airflow2_getter
        except ImportError:
            return {"hostname": socket.gethostname()}
    try:
        context = getter()
    except Exception:  # noqa: BLE001 - not inside a running task
        return {"hostname": socket.gethostname()}
    from callbacks.context import task_fields

    return task_fields(context)


class track_third_party(ContextDecorator):
    """Record one call to ``service`` doing ``operation`` as a ``third_party_call`` event."""

    def __init__(self, service: str, operation: str, target: str | None = None) -> None:
        self.service = service
        self.operation = operation
        self.target = target
        self._record = CallRecord(target=target)
        self._started = 0.0

    def __call__(self, func: _F) -> _F:
        """As a decorator: one event per call, the status taken from a returned response."""

        @wraps(func)
        def tracked(*args: Any, **kwargs: Any) -> Any:
            with self._recreate_cm() as call:
                result = func(*args, **kwargs)
                if call.status_code is None:
                    call.status_code = _status_of(result)
                return result

        return cast(_F, tracked)

    def __enter__(self) -> CallRecord:
        self._record = CallRecord(target=self.target)
        self._started = time.perf_counter()
        return self._record

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        latency_ms = (time.perf_counter() - self._started) * 1000
        self._ended = datetime.now(timezone.utc)
        try:
            self._emit(latency_ms, exc)
        except Exception as error:  # noqa: BLE001 - never hurt the caller
            print(f"composer-observability: third-party event lost: {error!r}", file=sys.stderr)

    def _emit(self, latency_ms: float, exc: BaseException | None) -> None:
        from observability.emit import emit
        from observability.redact import redact_url

        status = self._record.status_code
        if exc is not None and status is None:
            status = _status_of(getattr(exc, "response", None)) or _status_of(exc)
        outcome: Literal["success", "error", "timeout"]
        if exc is not None:
            outcome = "timeout" if _is_timeout(exc) else "error"
        else:
            outcome = "error" if status is not None and status >= 400 else "success"
        target, host = redact_url(self._record.target) if self._record.target else (None, None)
        call = {
            "service": self.service,
            "operation": self.operation,
            "outcome": outcome,
            "status_code": status,
            "latency_ms": round(latency_ms, 3),
            "error_type": type(exc).__name__ if exc is not None else None,
            "target_host": host,
            "target": target,
        }
        fields = _current_task_fields()
        fields.update(event_type="third_party_call", timestamp=self._ended, third_party=call)
        emit(fields)
