"""Fixtures for the router tests: fake receivers, an SMTP server, router processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from observability.standins import (
    GoogleChatStandIn,
    PagerDutyStandIn,
    SlackStandIn,
    StandIn,
    WebhookStandIn,
)
from tests.router.harness import RouterProcess


@pytest.fixture
def fakes() -> Iterator[dict[str, StandIn]]:
    services: dict[str, StandIn] = {
        "slack": SlackStandIn(name="slack"),
        "pagerduty": PagerDutyStandIn(name="pagerduty"),
        "chat": GoogleChatStandIn(name="chat"),
        "webhook": WebhookStandIn(name="webhook"),
    }
    for service in services.values():
        service.start()
    yield services
    for service in services.values():
        service.stop()


@pytest.fixture(scope="module")
def module_webhook() -> Iterator[WebhookStandIn]:
    """A webhook consumer shared by one module's tests (and its module-scoped routers)."""
    service = WebhookStandIn(name="webhook")
    service.start()
    yield service
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
