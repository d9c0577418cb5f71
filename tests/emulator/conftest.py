"""Clients of the session's emulator process (``emulator`` and ``project`` come from tests/)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from google.cloud.logging import Client

from observability import gcp
from observability.gcp import Endpoint
from tests.emulator.helpers import client_fixture, emulator_now

api = client_fixture("api", gcp.logging_api, scope="session")
"""The generated Logging gRPC client, as ``observability.gcp`` builds it."""
metrics = client_fixture("metrics", gcp.metrics_api)
"""The log-based metrics client (MetricsServiceV2)."""
monitoring = client_fixture("monitoring", gcp.monitoring_metric_api)
"""The Monitoring MetricService client (ListTimeSeries, CreateTimeSeries)."""
policies = client_fixture("policies", gcp.alert_policy_api)
channels = client_fixture("channels", gcp.notification_channel_api)


@pytest.fixture
def hand_client(emulator: Endpoint, project: str) -> Callable[[str], Client]:
    """The hand-written ``google.cloud.logging.Client`` on a transport ("grpc" or "http")."""

    def make(transport: str) -> Client:
        assert transport in ("grpc", "http")
        return gcp.logging_client(project, emulator, transport=transport)  # type: ignore[arg-type]

    return make


@pytest.fixture
def base(emulator: Endpoint) -> datetime:
    """A whole minute ten minutes before the emulator's now: data is written from here."""
    return emulator_now(emulator).replace(second=0, microsecond=0) - timedelta(minutes=10)


@pytest.fixture(scope="module")
def http(emulator: Endpoint) -> Iterator[httpx.Client]:
    """Plain HTTP to the emulator's REST endpoint, for what the clients never send."""
    with httpx.Client(base_url=str(emulator.http_url), timeout=30) as client:
        yield client
