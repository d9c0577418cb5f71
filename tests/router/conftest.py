"""Fixtures for the router tests: fake receivers, an SMTP server, router processes, the
pipeline in-process."""

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
    serving,
)
from tests.router.harness import RouterProcess
from tests.router.pipeline import SLACK_ONLY, Pipeline


@pytest.fixture
def fakes() -> Iterator[dict[str, StandIn]]:
    services: dict[str, StandIn] = {
        "slack": SlackStandIn(name="slack"),
        "pagerduty": PagerDutyStandIn(name="pagerduty"),
        "chat": GoogleChatStandIn(name="chat"),
        "webhook": WebhookStandIn(name="webhook"),
    }
    with serving(services):
        yield services


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


@pytest.fixture
def pipeline_config() -> str:
    """The router configuration ``pipeline`` runs; a module overrides it with its own."""
    return SLACK_ONLY


@pytest.fixture
def pipeline(tmp_path: Path, pipeline_config: str) -> Iterator[Pipeline]:
    """The router's pipeline in-process on a manual clock, on ``pipeline_config``."""
    world = Pipeline(tmp_path, pipeline_config)
    yield world
    world.close()
