"""Email over SMTP: STARTTLS by default (``require_tls``), implicit TLS on port 465.

``smtplib`` blocks, so a send runs in a worker thread. SMTP's own codes decide retries:
4xx replies are transient by definition and retried, 5xx are permanent (535 is an auth error).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from observability.router.notice import Notice
from observability.router.receivers.base import (
    DeliveryError,
    FailureReason,
    Integration,
    IntegrationConfigError,
    read_secret,
)
from observability.router.templates import Templates


def one_line(text: str) -> str:
    """A header value from rendered text: every line break (``str.splitlines``'s, CR and LF
    included) becomes a space, so alert text can neither fold nor add a header."""
    return " ".join(text.splitlines()).strip()


class EmailConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    TEMPLATE_FIELDS: ClassVar[tuple[str, ...]] = ("subject", "html", "text")

    send_resolved: bool = False
    to: str
    from_: str | None = Field(default=None, alias="from")
    smarthost: str | None = None
    hello: str = "localhost"
    auth_username: str | None = None
    auth_password: SecretStr | None = None
    auth_password_file: str | None = None
    require_tls: bool | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    subject: str = "{% include 'email.subject' %}"
    html: str | None = "{% include 'email.html' %}"
    text: str | None = "{% include 'email.text' %}"
    timeout_seconds: float = Field(default=10.0, gt=0)


class SmtpDefaults(BaseModel):
    """The ``global.smtp_*`` settings that fill unset email fields."""

    smarthost: str | None = None
    sender: str | None = None
    hello: str | None = None
    auth_username: str | None = None
    auth_password: SecretStr | None = None
    require_tls: bool = True


class Email(Integration[EmailConfig]):
    kind = "email"

    def __init__(
        self,
        receiver: str,
        index: int,
        config: EmailConfig,
        templates: Templates,
        defaults: SmtpDefaults,
        base_dir: Path,
    ) -> None:
        super().__init__(receiver, index, config, templates)
        smarthost = config.smarthost or defaults.smarthost
        if not smarthost:
            raise IntegrationConfigError(
                "smarthost", "smarthost (or global.smtp_smarthost) is required"
            )
        host, sep, port = smarthost.rpartition(":")
        if not sep or not port.isdigit():
            raise IntegrationConfigError("smarthost", f"expected host:port, got {smarthost!r}")
        self.host, self.port = host, int(port)
        sender = config.from_ or defaults.sender
        if not sender:
            raise IntegrationConfigError("from", "from (or global.smtp_from) is required")
        self.sender = sender
        self.username = config.auth_username or defaults.auth_username
        self.password = (
            read_secret(
                config.auth_password,
                config.auth_password_file,
                defaults.auth_password,
                "auth_password",
                base_dir,
            )
            if self.username
            else None
        )
        self.require_tls = (
            config.require_tls if config.require_tls is not None else defaults.require_tls
        )
        if config.hello == "localhost" and defaults.hello:
            self.hello = defaults.hello
        else:
            self.hello = config.hello

    def message(self, notice: Notice) -> EmailMessage:
        """The message for ``notice``; a permanent DeliveryError if the email library refuses
        it (sending it again would be refused again)."""
        try:
            return self._message(notice)
        except (ValueError, TypeError) as exc:
            raise DeliveryError(
                FailureReason.CLIENT, f"email: message refused: {exc}", retryable=False
            ) from None

    def _message(self, notice: Notice) -> EmailMessage:
        context = notice.template_context()
        message = EmailMessage()
        message["Subject"] = one_line(self.render(self.config.subject, context))
        message["From"] = self.sender
        message["To"] = self.config.to
        message["Date"] = formatdate(localtime=False)
        message["Message-Id"] = make_msgid(domain=self.hello)
        for name, value in self.config.headers.items():
            del message[name]
            message[name] = one_line(self.render(value, context))
        text = self.render(self.config.text, context) if self.config.text else None
        html = self.render(self.config.html, context, "html") if self.config.html else None
        message.set_content(text or "")
        if html:
            message.add_alternative(html, subtype="html")
        return message

    def _deliver(self, message: EmailMessage) -> None:
        timeout = self.config.timeout_seconds
        try:
            if self.port == 465:
                server: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.hello,
                    timeout=timeout,
                    context=ssl.create_default_context(),
                )
            else:
                server = smtplib.SMTP(
                    self.host, self.port, local_hostname=self.hello, timeout=timeout
                )
            with server:
                server.ehlo()
                if self.port != 465 and server.has_extn("starttls"):
                    server.starttls(context=ssl.create_default_context())
                    server.ehlo()
                elif self.port != 465 and self.require_tls:
                    raise DeliveryError(
                        FailureReason.CLIENT,
                        "email: server does not offer STARTTLS and require_tls is set",
                        retryable=False,
                    )
                if self.username and self.password is not None:
                    server.login(self.username, self.password)
                server.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                FailureReason.AUTH, f"email: auth failed ({exc.smtp_code})", retryable=False
            ) from None
        except smtplib.SMTPResponseException as exc:
            transient = 400 <= exc.smtp_code < 500
            reason = FailureReason.SERVER if transient else FailureReason.CLIENT
            raise DeliveryError(reason, f"email: SMTP {exc.smtp_code}", transient) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                FailureReason.CLIENT, f"email: recipients refused: {exc}", retryable=False
            ) from None
        except TimeoutError:
            raise DeliveryError(FailureReason.TIMEOUT, "email: timed out", True) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                FailureReason.OTHER, f"email: {type(exc).__name__}: {exc}", True
            ) from None

    async def send(self, notice: Notice, client: httpx.AsyncClient) -> None:
        await asyncio.to_thread(self._deliver, self.message(notice))
