"""The Airflow REST API at the wire (``airflow_wire``) and the watchdog's client of it.

A module sets what the wire serves by overriding ``served``, or per test with
``@pytest.mark.parametrize("wire", [AirflowWire(...)], indirect=True)``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from observability.watchdog.airflow_api import AirflowAPI
from observability.watchdog.config import AirflowAuth
from tests.watchdog.airflow_wire import AirflowWire, airflow_wire


@pytest.fixture
def served() -> AirflowWire:
    """What ``wire`` serves when a test does not parametrize it: no DAGs, Airflow 3."""
    return AirflowWire()


@pytest.fixture
def wire(request: pytest.FixtureRequest, served: AirflowWire) -> Iterator[AirflowWire]:
    with airflow_wire(getattr(request, "param", served)) as running:
        yield running


@pytest.fixture
def api(wire: AirflowWire) -> Iterator[AirflowAPI]:
    """A client that has already asked the version: ``wire.requests`` starts empty."""
    client = AirflowAPI(wire.url, AirflowAuth(kind="none"))
    _ = client.major
    wire.reset()
    yield client
    client.close()
