"""Clients of the session's emulator process (``emulator`` and ``project`` come from tests/)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from google.cloud.logging import Client
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.metrics_service_v2 import MetricsServiceV2Client
from google.cloud.monitoring_v3 import (
    AlertPolicyServiceClient,
    MetricServiceClient,
    NotificationChannelServiceClient,
)

from observability import gcp
from observability.gcp import Endpoint
from tests.emulator.helpers import closed_at_end, emulator_now


@pytest.fixture(scope="session")
def api(emulator: Endpoint) -> Iterator[LoggingServiceV2Client]:
    """The generated gRPC client, as ``observability.gcp`` builds it."""
    yield from closed_at_end(gcp.logging_api(emulator))


@pytest.fixture
def hand_client(emulator: Endpoint, project: str) -> Callable[[str], Client]:
    """The hand-written ``google.cloud.logging.Client`` on a transport ("grpc" or "http")."""

    def make(transport: str) -> Client:
        assert transport in ("grpc", "http")
        return gcp.logging_client(project, emulator, transport=transport)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="module")
def metrics(emulator: Endpoint) -> Iterator[MetricsServiceV2Client]:
    """The log-based metrics client (MetricsServiceV2)."""
    yield from closed_at_end(gcp.metrics_api(emulator))


@pytest.fixture(scope="module")
def monitoring(emulator: Endpoint) -> Iterator[MetricServiceClient]:
    """The Monitoring MetricService client (ListTimeSeries, CreateTimeSeries)."""
    yield from closed_at_end(gcp.monitoring_metric_api(emulator))


@pytest.fixture
def base(emulator: Endpoint) -> datetime:
    """A whole minute ten minutes before the emulator's now: data is written from here."""
    return emulator_now(emulator).replace(second=0, microsecond=0) - timedelta(minutes=10)


@pytest.fixture(scope="module")
def policies(emulator: Endpoint) -> Iterator[AlertPolicyServiceClient]:
    """The Monitoring AlertPolicyService client."""
    yield from closed_at_end(gcp.alert_policy_api(emulator))


@pytest.fixture(scope="module")
def channels(emulator: Endpoint) -> Iterator[NotificationChannelServiceClient]:
    """The Monitoring NotificationChannelService client."""
    yield from closed_at_end(gcp.notification_channel_api(emulator))


@pytest.fixture(scope="module")
def http(emulator: Endpoint) -> Iterator[httpx.Client]:
    """Plain HTTP to the emulator's REST endpoint, for what the clients never send."""
    with httpx.Client(base_url=str(emulator.http_url), timeout=30) as client:
        yield client
