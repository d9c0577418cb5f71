"""One Airflow stand-in (``airflow_wire``) per test module, and its clients: starting a server
and making a client cost more than most tests at the wire."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.watchdog.airflow_wire import AirflowWire, WireClients, airflow_wire


@pytest.fixture(scope="module")
def served() -> Iterator[AirflowWire]:
    with airflow_wire(AirflowWire()) as wire:
        yield wire


@pytest.fixture(scope="module")
def clients(served: AirflowWire) -> Iterator[WireClients]:
    made = WireClients(served)
    yield made
    made.close()
