"""Fixtures of the watchdog's tests: Airflow's REST API at the wire."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from observability.watchdog.airflow_api import AirflowAPI
from observability.watchdog.config import AirflowAuth
from tests.watchdog.airflow_wire import AirflowWire, airflow_wire


@pytest.fixture
def wire(request: pytest.FixtureRequest) -> Iterator[AirflowWire]:
    """An Airflow 3.3 wire, or the one a test passes (``indirect`` parametrization)."""
    with airflow_wire(getattr(request, "param", None) or AirflowWire()) as served:
        yield served


@pytest.fixture
def api(wire: AirflowWire) -> Iterator[AirflowAPI]:
    """A client of ``wire`` that has probed its version; the wire's record starts after."""
    client = AirflowAPI(wire.url, AirflowAuth(kind="none"))
    _ = client.major
    wire.reset()
    yield client
    client.close()
