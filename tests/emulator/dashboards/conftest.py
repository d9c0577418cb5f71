"""The Dashboards API's gRPC client, which the dashboards' tests use beside plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.cloud.monitoring_dashboard_v1 import DashboardsServiceClient

from observability import gcp
from observability.gcp import Endpoint
from tests.emulator.helpers import closed_at_end


@pytest.fixture(scope="module")
def grpc_api(emulator: Endpoint) -> Iterator[DashboardsServiceClient]:
    yield from closed_at_end(gcp.dashboards_api(emulator, transport="grpc"))
