"""The Dashboards API's gRPC client, which the dashboards' tests use beside plain HTTP."""

from __future__ import annotations

from observability import gcp
from tests.emulator.helpers import client_fixture

grpc_api = client_fixture("grpc_api", gcp.dashboards_api)
"""The Dashboards client on gRPC (``dashboards_api``'s default transport)."""
