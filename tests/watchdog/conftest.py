"""The Airflow REST API at the wire (``airflow_wire``) and the watchdog's clients of it.

A module sets what ``wire`` serves by overriding ``served``, or per test with
``@pytest.mark.parametrize("wire", [AirflowWire(...)], indirect=True)``. Modules with many
short tests take ``shared_wire`` instead (one server a module) and ``clients`` (one client a
line): starting a server and making a client cost more than most tests at the wire."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from observability.watchdog.airflow_api import AirflowAPI
from observability.watchdog.config import AirflowAuth
from tests.watchdog.airflow_wire import AirflowWire, WireClients, airflow_wire


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


@pytest.fixture(scope="module")
def shared_wire() -> Iterator[AirflowWire]:
    """One server for a module's tests; each test resets what it serves."""
    with airflow_wire(AirflowWire()) as running:
        yield running


@pytest.fixture(scope="module")
def clients(shared_wire: AirflowWire) -> Iterator[WireClients]:
    made = WireClients(shared_wire)
    yield made
    made.close()
