"""Durable storage of dashboards for the emulator: the JSON the client sent, as text.

Dashboards are never stored through the proto, which lags the live API and would drop
fields. One SQLite file (``dashboards.db``, WAL) in the data directory holds a row per
dashboard: project, id, the JSON body without ``name`` and ``etag``, and the etag. Writes
that depend on the current etag compare and swap in one statement, so two concurrent
updates cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from observability.emulator.common.crud import ResourceName, ResourceStore, StoredResource

DASHBOARDS: Final = ResourceName("dashboards", "DASHBOARD_ID", "Requested entity was not found")


@dataclass(frozen=True, slots=True)
class StoredDashboard(StoredResource):
    """One stored dashboard: its JSON without ``name`` and ``etag``, its etag, its ``seq``."""


class DashboardsStore(ResourceStore[StoredDashboard]):
    """Dashboards per project, each with an etag (``insert``, ``replace``, ``delete``)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, StoredDashboard, table="dashboards", etag=True)
