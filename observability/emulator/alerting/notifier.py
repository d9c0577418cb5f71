"""Delivery of incident notifications to notification channels, off the evaluator's thread.

``Notifier.submit(channel, payload)`` only queues; one worker thread delivers:

- ``webhook_tokenauth``: POST of the schema 1.2 JSON to the ``url`` label (the token rides in
  its query string);
- ``webhook_basicauth``: POST without credentials first; the endpoint must answer 401 with
  ``WWW-Authenticate: Basic``, then the POST is repeated with the ``username``/``password``
  labels, as Monitoring does;
- ``email``: a message to ``email_address`` through the SMTP server of
  ``COMPOSER_OBS_EMULATOR_SMTP=host:port``, else appended to ``mailbox`` (mbox format) in the
  data directory.

A failed delivery is retried with exponential backoff (``base_delay`` doubling, at most
``max_attempts`` tries), and every failure is written as an entry of the log
``monitoring.googleapis.com%2Fnotification_channel_events`` of the channel's project through
``event_log``, so it can be queried like on Google. Other channel types are not delivered;
that is logged there too, once per notification.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import logging
import mailbox
import os
import smtplib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from observability.emulator.channels.store import StoredChannel

SMTP_ENV = "COMPOSER_OBS_EMULATOR_SMTP"
EVENTS_LOG_ID = "monitoring.googleapis.com%2Fnotification_channel_events"
_log = logging.getLogger(__name__)

EventLog = Callable[[str, str, dict[str, Any]], None]
"""``event_log(project, severity, json_payload)`` writes one channel event entry."""


class DeliveryError(Exception):
    """A delivery attempt failed; ``retry`` says whether trying again can help."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    channel: StoredChannel = field(compare=False)
    payload: dict[str, Any] = field(compare=False)
    attempt: int = field(default=0, compare=False)


class Notifier:
    """A delivery queue and its worker thread (``start``/``stop``)."""

    def __init__(
        self,
        data_dir: Path,
        event_log: EventLog,
        *,
        smtp: str | None = None,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        timeout: float = 5.0,
    ) -> None:
        self.mailbox_path = Path(data_dir) / "mailbox"
        self.event_log = event_log
        self.smtp = smtp if smtp is not None else os.environ.get(SMTP_ENV) or None
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.timeout = timeout
        self._queue: list[_Job] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="emulator-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
        self._thread = None

    def submit(self, channel: StoredChannel, payload: dict[str, Any]) -> None:
        """Queue one notification; returns at once."""
        with self._cond:
            heapq.heappush(self._queue, _Job(time.monotonic(), next(self._seq), channel, payload))
            self._cond.notify_all()

    def idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or being delivered (tests); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (
                    not self._queue or self._queue[0].due > time.monotonic()
                ):
                    wait = self._queue[0].due - time.monotonic() if self._queue else None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                job = heapq.heappop(self._queue)
                self._busy += 1
            try:
                self._attempt(job)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _attempt(self, job: _Job) -> None:
        job.attempt += 1
        try:
            self.deliver(job.channel, job.payload)
            return
        except DeliveryError as error:
            failure: DeliveryError = error
        except Exception as error:  # noqa: BLE001 - any failure is a failed delivery
            failure = DeliveryError(f"{type(error).__name__}: {error}")
        will_retry = failure.retry and job.attempt < self.max_attempts
        self._record(job, str(failure), will_retry)
        if will_retry:
            job.due = time.monotonic() + min(60.0, self.base_delay * 2 ** (job.attempt - 1))
            with self._cond:
                heapq.heappush(self._queue, job)
                self._cond.notify_all()

    def _record(self, job: _Job, error: str, will_retry: bool) -> None:
        incident = job.payload.get("incident", {})
        _log.warning(
            "notification to %s (%s) failed (attempt %d): %s",
            job.channel.name,
            job.channel.type,
            job.attempt,
            error,
        )
        try:
            self.event_log(
                job.channel.project,
                "ERROR" if job.channel.type in _DELIVERERS else "WARNING",
                {
                    "message": f"Notification delivery failed: {error}",
                    "notificationChannel": job.channel.name,
                    "channelType": job.channel.type,
                    "incidentId": incident.get("incident_id", ""),
                    "policyName": incident.get("policy_name", ""),
                    "state": incident.get("state", ""),
                    "attempt": job.attempt,
                    "willRetry": will_retry,
                },
            )
        except Exception:  # noqa: BLE001 - the event log must not stop deliveries
            _log.exception("cannot write the notification channel event")

    # -- delivery ----------------------------------------------------------------------

    def deliver(self, channel: StoredChannel, payload: dict[str, Any]) -> None:
        """Deliver once, raising ``DeliveryError`` on failure."""
        deliverer = _DELIVERERS.get(channel.type)
        if deliverer is None:
            raise DeliveryError(
                f"channel type {channel.type!r} is not delivered by the emulator", retry=False
            )
        deliverer(self, channel, payload)

    def _post(self, url: str, body: bytes, auth: str | None = None) -> tuple[int, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "GoogleStackdriverAlerts"}
        if auth:
            headers["Authorization"] = auth
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, ""
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("WWW-Authenticate", "") or ""
        except (urllib.error.URLError, OSError) as error:
            raise DeliveryError(f"POST {_redact(url)}: {error}") from error

    def _webhook_token(self, channel: StoredChannel, payload: dict[str, Any]) -> None:
        url = channel.labels.get("url", "")
        status, _ = self._post(url, json.dumps(payload).encode())
        if not 200 <= status < 300:
            raise DeliveryError(f"POST {_redact(url)} answered HTTP {status}")

    def _webhook_basic(self, channel: StoredChannel, payload: dict[str, Any]) -> None:
        labels = channel.labels
        url = labels.get("url", "")
        body = json.dumps(payload).encode()
        status, challenge = self._post(url, body)
        if 200 <= status < 300:
            return
        if status != 401 or not challenge.lower().startswith("basic"):
            raise DeliveryError(
                f"POST {_redact(url)} answered HTTP {status} instead of a 401 challenge "
                "with WWW-Authenticate: Basic"
            )
        token = base64.b64encode(
            f"{labels.get('username', '')}:{labels.get('password', '')}".encode()
        ).decode()
        status, _ = self._post(url, body, auth=f"Basic {token}")
        if not 200 <= status < 300:
            raise DeliveryError(f"POST {_redact(url)} with credentials answered HTTP {status}")

    def _email(self, channel: StoredChannel, payload: dict[str, Any]) -> None:
        incident = payload.get("incident", {})
        docs = incident.get("documentation") or {}
        state = incident.get("state", "")
        message = EmailMessage()
        message["From"] = "alerting-noreply@emulator.local"
        message["To"] = channel.labels.get("email_address", "")
        message["Subject"] = docs.get("subject") or (
            f"[ALERT - {str(incident.get('severity', '')).title()}] "
            f"{incident.get('policy_name', '')} ({state})"
        )
        message["X-Incident-Id"] = str(incident.get("incident_id", ""))
        message["X-Incident-State"] = str(state)
        message.set_content(
            f"{incident.get('summary', '')}\n\n{docs.get('content', '')}\n\n"
            f"{json.dumps(payload, indent=2)}\n"
        )
        if self.smtp:
            host, _, port = self.smtp.rpartition(":")
            try:
                with smtplib.SMTP(host or "127.0.0.1", int(port), timeout=self.timeout) as smtp:
                    smtp.send_message(message)
            except (OSError, smtplib.SMTPException, ValueError) as error:
                raise DeliveryError(f"SMTP {self.smtp}: {error}") from error
            return
        box = mailbox.mbox(self.mailbox_path)
        try:
            box.lock()
            box.add(message)
            box.flush()
        finally:
            box.unlock()
            box.close()


def _redact(url: str) -> str:
    """The URL without its query string (it carries the token)."""
    return url.split("?", 1)[0]


_DELIVERERS: dict[str, Callable[[Notifier, StoredChannel, dict[str, Any]], None]] = {
    "webhook_tokenauth": Notifier._webhook_token,
    "webhook_basicauth": Notifier._webhook_basic,
    "email": Notifier._email,
}
