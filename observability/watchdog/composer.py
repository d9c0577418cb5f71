"""Environments from the Composer API: ``environments.list`` and ``environments.get``.

The Composer API manages environments; it gives, for each, ``config.airflowUri`` (the Airflow
web server, which also serves Airflow's REST API) and the image version. The watchdog asks it
which environments exist and where their Airflow is, then talks to Airflow directly. Against
the emulator the same REST calls go to its HTTP port, with no credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from observability.gcp import Endpoint
from observability.watchdog.config import ComposerSource
from observability.watchdog.facts import Environment

COMPOSER_API = "https://composer.googleapis.com/v1"


class ComposerAPIError(RuntimeError):
    """The Composer API refused or could not be reached; one line naming what to check."""


class ComposerAPI:
    """A small REST client of ``composer.googleapis.com/v1`` (list and get, nothing else)."""

    def __init__(self, endpoint: Endpoint, timeout_s: float = 30.0) -> None:
        self._base = f"{endpoint.http_url}/v1" if endpoint.emulated else COMPOSER_API
        self._emulated = endpoint.emulated
        self._http = httpx.Client(timeout=timeout_s)
        self._credentials: Any = None
        self.calls = 0

    def close(self) -> None:
        self._http.close()

    def _headers(self) -> dict[str, str]:
        if self._emulated:
            return {}
        import google.auth
        import google.auth.transport.requests

        if self._credentials is None:
            self._credentials, _ = google.auth.default(
                scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
        if not self._credentials.valid:
            self._credentials.refresh(google.auth.transport.requests.Request())
        return {"Authorization": f"Bearer {self._credentials.token}"}

    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls += 1
        url = f"{self._base}/{path}"
        try:
            answer = self._http.get(url, params=params, headers=self._headers())
        except httpx.HTTPError as exc:
            raise ComposerAPIError(f"Composer API at {url}: {type(exc).__name__}: {exc}") from None
        if answer.status_code == 403:
            raise ComposerAPIError(
                f"Composer API refused {path}: the caller needs roles/composer.user "
                "(composer.environments.get and .list)"
            )
        if answer.status_code >= 300:
            raise ComposerAPIError(
                f"Composer API answered {answer.status_code} for {path}: {answer.text[:200]}"
            )
        return dict(answer.json())

    def environments(self, source: ComposerSource) -> Iterator[dict[str, Any]]:
        """The environments of ``source``: the named ones, or every one of its location."""
        parent = f"projects/{source.project}/locations/{source.location}"
        if source.environments:
            for name in source.environments:
                yield self._get(f"{parent}/environments/{name}")
            return
        token: str | None = None
        while True:
            page = self._get(f"{parent}/environments", {"pageToken": token} if token else None)
            yield from page.get("environments") or []
            token = page.get("nextPageToken")
            if not token:
                return


def to_environment(resource: dict[str, Any]) -> Environment | None:
    """The watched environment of one API resource; None while it has no Airflow to read."""
    name = str(resource.get("name", ""))
    parts = name.split("/")
    uri = (resource.get("config") or {}).get("airflowUri")
    if len(parts) != 6 or not uri or resource.get("state") not in (None, "RUNNING", "UPDATING"):
        return None
    return Environment(name=parts[5], airflow_url=uri, project=parts[1], location=parts[3])
