"""Delivery failures are classified once and never escape the courier unlogged."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from observability.router.outbox import Courier, Outbox
from observability.router.receivers.base import DeliveryError
from observability.router.receivers.email import Email, EmailConfig, SmtpDefaults
from observability.router.templates import Templates
from tests.router.pipeline import SLACK_ONLY, Pipeline, first_notice


class Accepting:
    kind = "slack"

    async def deliver(self, notice: Any, client: httpx.AsyncClient, progress: Any) -> None:
        return None


def test_a_delivery_record_that_cannot_be_written_is_logged_not_left_in_the_task(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = Pipeline(tmp_path, SLACK_ONLY)
    try:
        pipeline.incident("disk-full", dag_id="etl")
        assert pipeline.tick(1)
        outbox = Outbox(pipeline.store, pipeline.clock)
        courier = Courier(outbox, lambda: pipeline.config, pipeline.dispatcher.metrics)
        [claim] = outbox.claim(10, 60)

        def disk_full(_: Any) -> None:
            raise OperationalError(
                "INSERT INTO deliveries", {}, Exception("database or disk is full")
            )

        outbox.delivered = disk_full  # type: ignore[method-assign,assignment]
        courier._integration = lambda _: Accepting()  # type: ignore[assignment,method-assign,return-value]

        async def deliver() -> None:
            async with httpx.AsyncClient() as client:
                await courier._deliver(claim, client)

        asyncio.run(deliver())
    finally:
        pipeline.close()
    assert "could not be recorded" in caplog.text and "disk is full" in caplog.text


def email(to: str = "oncall@example.com") -> Email:
    config = EmailConfig.model_validate(
        {"to": to, "from": "router@example.com", "smarthost": "127.0.0.1:1"}
    )
    return Email("mail", 0, config, Templates(), SmtpDefaults(), Path("."))


def test_an_alert_name_with_line_breaks_makes_a_one_line_subject(tmp_path: Path) -> None:
    notice = first_notice(
        tmp_path, labels={"alertname": "Disk\r\nBcc: everyone@example.com\u2028full"}
    )
    subject = email().message(notice)["Subject"]
    assert subject.startswith("[FIRING:1] Disk") and "\r" not in subject and "\n" not in subject


def test_a_message_the_email_library_refuses_is_a_permanent_failure(tmp_path: Path) -> None:
    notice = first_notice(tmp_path, labels={"alertname": "Refused"})

    async def send() -> None:
        async with httpx.AsyncClient() as client:
            await email("oncall@example.com\rBcc: x@example.com").send(notice, client)

    with pytest.raises(DeliveryError) as refused:
        asyncio.run(send())
    assert not refused.value.retryable
    assert "email" in str(refused.value)
