"""Environments from the Composer API: ``environments.list`` and ``environments.get``.

The Composer API manages environments; for each it gives ``config.airflowUri`` (the Airflow
web server, which also serves Airflow's REST API). The watchdog asks it which environments
exist and where their Airflow is, through Google's own client (``gcp.composer_api``: REST,
the emulator's HTTP port offline), then talks to Airflow directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from observability.gcp import Endpoint, composer_api
from observability.watchdog.config import ComposerSource
from observability.watchdog.facts import Environment

_READY_STATES = ("RUNNING", "UPDATING")
"""An environment being created, deleted or in error has no Airflow worth reading."""


class ComposerAPIError(RuntimeError):
    """The Composer API refused or could not be reached; one line naming what to check."""


class ComposerAPI:
    """Lists and gets environments; counts its calls (a pass's cost is documented)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._client = composer_api(endpoint)
        self.calls = 0

    def close(self) -> None:
        self._client.transport.close()

    def environments(self, source: ComposerSource) -> Iterator[Any]:
        """The environments of ``source``: the named ones, or every one of its location."""
        from google.api_core import exceptions

        parent = f"projects/{source.project}/locations/{source.location}"
        try:
            if source.environments:
                for name in source.environments:
                    self.calls += 1
                    yield self._client.get_environment(name=f"{parent}/environments/{name}")
                return
            self.calls += 1
            yield from self._client.list_environments(parent=parent)
        except exceptions.PermissionDenied:
            raise ComposerAPIError(
                f"Composer API refused {parent}: the watchdog's account needs "
                "composer.environments.get and .list (roles/composer.user)"
            ) from None
        except exceptions.GoogleAPIError as exc:
            raise ComposerAPIError(f"Composer API, {parent}: {exc}") from None


def to_environment(resource: Any) -> Environment | None:
    """The watched environment of one API resource; None while it has no Airflow to read."""
    parts = str(resource.name).split("/")
    uri = resource.config.airflow_uri
    try:
        state = resource.State(resource.state).name if resource.state else "RUNNING"
    except ValueError:  # a state this client does not know yet: not known to be ready
        return None
    if len(parts) != 6 or not uri.startswith(("https://", "http://")):
        return None
    if state not in _READY_STATES:
        return None
    return Environment(name=parts[5], airflow_url=uri, project=parts[1], location=parts[3])
