"""The emulator's own admin endpoints, as the demo drives them: its clock, its incidents and
the Composer environment the example DAGs run "in".

These are not Google APIs; they are what lets a laptop live through half an hour of alerting
in a few seconds (see README, "The emulator").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx


class EmulatorAdmin:
    """Moves the emulator's clock, evaluates the alert policies, reads incidents back."""

    def __init__(self, http_url: str, project: str) -> None:
        self.project = project
        self._client = httpx.Client(base_url=http_url, timeout=30)

    def close(self) -> None:
        self._client.close()

    def now(self) -> float:
        """The emulator's current time (epoch seconds)."""
        answer = self._client.get("/v1/emulator/clock")
        answer.raise_for_status()
        return datetime.fromisoformat(answer.json()["now"].replace("Z", "+00:00")).timestamp()

    def advance(self, seconds: float) -> None:
        """Move the clock forward, then evaluate every policy at the times passed over."""
        self._client.post(
            "/v1/emulator/clock:advance", json={"seconds": seconds}
        ).raise_for_status()
        self._client.post("/v1/emulator/alerting:evaluate").raise_for_status()

    def declare_environment(self, location: str, name: str, airflow_uri: str) -> None:
        """Put a Composer environment in place, so that the router's enrichment finds its
        Airflow UI (``config.airflowUri``) and links a failure to its DAG run."""
        path = f"/v1/emulator/projects/{self.project}/locations/{location}/environments/{name}"
        self._client.put(path, json={"config": {"airflowUri": airflow_uri}}).raise_for_status()

    def incidents(self) -> list[dict[str, Any]]:
        """Every incident of the project, newest first."""
        answer = self._client.get(f"/v1/emulator/projects/{self.project}/incidents")
        answer.raise_for_status()
        return list(answer.json()["incidents"])
