"""What every integration shares: failure classification, HTTP posting, secrets, the interface.

Failures are classified as Alertmanager classifies them (``clientError``, ``serverError``,
``authError``, ``rateLimited``, ``contextDeadlineExceeded``, ``other``) and marked retryable or
not: 5xx, 429, timeouts and connection errors are retried by the outbox, other 4xx are dead
letters at once, because sending the same request again cannot fix them.
Error messages never contain the target URL: for Slack, Chat and webhooks the URL is the secret.
"""

from __future__ import annotations

import enum
import math
import time
from abc import ABC, abstractmethod
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import httpx
from pydantic import SecretStr

from observability.router.notice import Notice
from observability.router.templates import Markup, Templates


class FailureReason(str, enum.Enum):
    CLIENT = "clientError"
    SERVER = "serverError"
    AUTH = "authError"
    RATE_LIMITED = "rateLimited"
    TIMEOUT = "contextDeadlineExceeded"
    TEMPLATE = "templateError"
    OTHER = "other"


class DeliveryError(Exception):
    """A notice could not be delivered; ``retryable`` says whether trying again can help and
    ``retry_after`` how long the service asked to wait (its ``Retry-After``), if it did."""

    def __init__(
        self,
        reason: FailureReason,
        message: str,
        retryable: bool,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class IntegrationConfigError(ValueError):
    """A receiver setting is missing or wrong; ``field`` names it within the integration."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_status(response: httpx.Response, service: str) -> None:
    """Raise DeliveryError unless the answer is 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    excerpt = response.text[:200].replace("\n", " ")
    message = f"{service} answered HTTP {status}: {excerpt}"
    wait = retry_after(response)
    if status == 429:
        raise DeliveryError(FailureReason.RATE_LIMITED, message, True, wait)
    if status >= 500:
        raise DeliveryError(FailureReason.SERVER, message, True, wait)
    if status in (401, 403):
        raise DeliveryError(FailureReason.AUTH, message, retryable=False)
    raise DeliveryError(FailureReason.CLIENT, message, retryable=False)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the service asks to wait (``Retry-After``: seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


async def request_json(
    client: httpx.AsyncClient,
    url: str,
    body: Any,
    service: str,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | None = None,
    *,
    method: str = "POST",
) -> httpx.Response:
    """Send a JSON request (no body when ``body`` is None) and classify the outcome;
    transport failures become retryable errors."""
    options: dict[str, Any] = {"headers": headers}
    if body is not None:
        options["json"] = body
    if auth is not None:
        options["auth"] = auth
    try:
        response = await client.request(method, url, **options)
    except httpx.TimeoutException:
        raise DeliveryError(FailureReason.TIMEOUT, f"{service} timed out", True) from None
    except httpx.HTTPError as exc:
        message = f"{service} unreachable: {type(exc).__name__}"
        raise DeliveryError(FailureReason.OTHER, message, True) from None
    check_status(response, service)
    return response


def read_secret(
    value: SecretStr | None,
    file: str | None,
    fallback: SecretStr | None,
    field: str,
    base_dir: Path,
) -> str:
    """A secret from the setting, else its ``*_file`` (relative to the config), else the global
    default; IntegrationConfigError naming ``field`` when there is none, or when both the
    setting and its file are given (Alertmanager refuses that: which one would win?)."""
    if value is not None and file is not None:
        message = f"at most one of {field} & {field}_file must be configured"
        raise IntegrationConfigError(f"{field}_file", message)
    if value is not None:
        return value.get_secret_value()
    if file is not None:
        path = base_dir / file
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise IntegrationConfigError(f"{field}_file", f"cannot read {path}: {exc}") from None
    if fallback is not None:
        return fallback.get_secret_value()
    raise IntegrationConfigError(field, f"{field} (or {field}_file) is required")


class Progress(Protocol):
    """Which parts of one notice its service has accepted, as recorded in the database.

    A part is one request of a notice sent as several (a PagerDuty event); once ``record``
    returns, no retry of the notice, in this process or another after a restart, sends it
    again.
    """

    def accepted(self, part: str) -> bool:
        """Whether the service accepted ``part`` in an earlier attempt."""
        ...

    async def record(self, part: str) -> None:
        """Remember that the service accepted ``part`` (durably: committed on return)."""
        ...


class Unrecorded:
    """Progress kept nowhere: every part is sent (a one-off send, such as the alert tests)."""

    def accepted(self, part: str) -> bool:
        return False

    async def record(self, part: str) -> None:
        return None


class IntegrationConfig(Protocol):
    """What every entry of a receiver's ``*_configs`` list says: whether resolved alerts are
    sent too."""

    @property
    def send_resolved(self) -> bool: ...


ConfigT = TypeVar("ConfigT", bound=IntegrationConfig)


class Integration(ABC, Generic[ConfigT]):
    """One entry of a receiver's ``*_configs`` list, ready to send; ``config`` is that entry."""

    kind: ClassVar[str]
    markup: ClassVar[Markup] = "text"
    """How the channel marks text up: values are escaped for it (``templates.Markup``)."""

    def __init__(self, receiver: str, index: int, config: ConfigT, templates: Templates):
        self.receiver = receiver
        self.index = index
        self.config = config
        self.send_resolved = config.send_resolved
        self.templates = templates

    @property
    def key(self) -> str:
        """Stable name of this integration: ``receiver/kind/index``."""
        return f"{self.receiver}/{self.kind}/{self.index}"

    def render(self, source: str, context: dict[str, Any], markup: Markup | None = None) -> str:
        """``source`` rendered, its values escaped for ``markup`` (default: the channel's)."""
        try:
            return self.templates.render(source, context, markup or self.markup)
        except Exception as exc:  # noqa: BLE001 - any template failure is a permanent one
            message = f"{self.key}: template failed: {type(exc).__name__}: {exc}"
            raise DeliveryError(FailureReason.TEMPLATE, message, retryable=False) from None

    @abstractmethod
    async def send(self, notice: Notice, client: httpx.AsyncClient) -> None:
        """Deliver ``notice`` or raise DeliveryError."""

    async def deliver(self, notice: Notice, client: httpx.AsyncClient, progress: Progress) -> None:
        """Deliver ``notice`` as the outbox does, or raise DeliveryError.

        An integration that sends a notice as several requests overrides this to skip the
        parts ``progress`` says were accepted and record each it gets accepted; one request
        per notice has no parts, so by default this is ``send``.
        """
        await self.send(notice, client)
