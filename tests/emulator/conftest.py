"""Clients of the session's emulator process (``emulator`` and ``project`` come from tests/)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from google.cloud.logging import Client
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client

from observability import gcp
from observability.gcp import Endpoint


@pytest.fixture(scope="session")
def api(emulator: Endpoint) -> Iterator[LoggingServiceV2Client]:
    """The generated gRPC client, as ``observability.gcp`` builds it."""
    client = gcp.logging_api(emulator)
    yield client
    client.transport.close()


@pytest.fixture
def hand_client(emulator: Endpoint, project: str) -> Callable[[str], Client]:
    """The hand-written ``google.cloud.logging.Client`` on a transport ("grpc" or "http")."""

    def make(transport: str) -> Client:
        assert transport in ("grpc", "http")
        return gcp.logging_client(project, emulator, transport=transport)  # type: ignore[arg-type]

    return make
