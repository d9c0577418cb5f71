"""Fixtures for the router tests: fake receivers, an SMTP server, router processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.router.fakes import (
    FakeGoogleChat,
    FakePagerDuty,
    FakeService,
    FakeSlack,
    FakeWebhook,
)
from tests.router.harness import RouterProcess


@pytest.fixture
def fakes() -> Iterator[dict[str, FakeService]]:
    services: dict[str, FakeService] = {
        "slack": FakeSlack(name="slack"),
        "pagerduty": FakePagerDuty(name="pagerduty"),
        "chat": FakeGoogleChat(name="chat"),
        "webhook": FakeWebhook(name="webhook"),
    }
    for service in services.values():
        service.start()
    yield services
    for service in services.values():
        service.stop()


@pytest.fixture
def router_factory(tmp_path: Path) -> Iterator[Callable[..., RouterProcess]]:
    started: list[RouterProcess] = []

    def start(config: str, name: str = "router", **kwargs: object) -> RouterProcess:
        router = RouterProcess(tmp_path / name, config, **kwargs)  # type: ignore[arg-type]
        started.append(router)
        return router.start()

    yield start
    for router in started:
        router.close()
