"""Reading the events a test's Airflow wrote, back through the real Cloud Logging client."""

from __future__ import annotations

from typing import Any

from observability.gcp import Endpoint, logging_client

LOG_NAME = "composer-observability"


def read_events(endpoint: Endpoint, project: str) -> list[dict[str, Any]]:
    """Every event of the project, oldest first, read through the real client's list_entries;
    each is the entry's ``jsonPayload`` plus the entry itself under ``"entry"``."""
    client = logging_client(project, endpoint, transport="grpc")
    entries = client.list_entries(
        filter_=f'logName="projects/{project}/logs/{LOG_NAME}"',
        order_by="timestamp asc",
        page_size=1000,
    )
    return [{"entry": entry, **entry.payload} for entry in entries]
