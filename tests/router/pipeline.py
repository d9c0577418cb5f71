"""The router's pipeline in-process on a manual clock: alerts in, notices out, no sleeping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from observability.router.alert import Alert, PostableAlert
from observability.router.alert_store import IncidentEvent, Outcome, Submission, write
from observability.router.clock import ManualClock
from observability.router.config import RouterConfig, parse_config
from observability.router.dispatcher import Dispatcher
from observability.router.incident import WebhookPayload, incident_alert
from observability.router.metrics import RouterMetrics
from observability.router.notice import Notice
from observability.router.silence import PostableSilence, save_silence
from observability.router.store import Store
from tests.router.harness import incident


class Pipeline:
    def __init__(self, directory: Path, config: str) -> None:
        self.clock = ManualClock()
        self.config: RouterConfig = parse_config(config, "test.yaml", directory)
        self.store = Store(f"sqlite:///{directory / 'pipeline.db'}", "NORMAL")
        self.store.create_schema()
        self.dispatcher = Dispatcher(
            self.store,
            self.clock,
            lambda: self.config,
            RouterMetrics(),
            "https://router.example.com",
        )
        self.notices: list[Notice] = []

    def _store(self, submission: Submission) -> list[Outcome]:
        with self.store.write() as connection:
            write(connection, self.store, [submission], self.clock.now())
        return submission.outcomes

    def incident(self, incident_id: str, state: str = "open", **labels: str) -> Outcome:
        body = incident(incident_id, state=state, started_at=self.clock.now(), **labels)
        body["incident"]["ended_at"] = self.clock.now() if state == "closed" else None
        payload = WebhookPayload.model_validate(body)
        alert = incident_alert(payload.incident, self.clock.now())
        event = IncidentEvent(incident_id, payload.incident.state, alert, json.dumps(body))
        return self._store(Submission(incident=event))[0]

    def alert(self, **fields: Any) -> Alert:
        alert = PostableAlert.model_validate(fields).to_alert(self.clock.now(), 300)
        self._store(Submission(alerts=[alert]))
        return alert

    def silence(self, name: str, value: str, seconds: float) -> str:
        return self._silence(name, value, seconds, regex=False)

    def silence_regex(self, name: str, pattern: str, seconds: float) -> str:
        return self._silence(name, pattern, seconds, regex=True)

    def _silence(self, name: str, value: str, seconds: float, regex: bool) -> str:
        from datetime import datetime, timezone

        now = self.clock.now()
        body = PostableSilence.model_validate(
            {
                "matchers": [{"name": name, "value": value, "isRegex": regex}],
                "startsAt": datetime.fromtimestamp(now, timezone.utc),
                "endsAt": datetime.fromtimestamp(now + seconds, timezone.utc),
                "createdBy": "test",
                "comment": "test",
            }
        )
        with self.store.write() as connection:
            return save_silence(connection, body, now)

    def tick(self, seconds: float = 0.0) -> list[Notice]:
        """Advance the clock, run the dispatcher until idle; the notices it produced."""
        self.clock.advance(seconds)
        produced: list[Notice] = []
        while True:
            report = self.dispatcher.run_once()
            produced.extend(report.notices)
            if not report.busy:
                break
        self.notices.extend(produced)
        return produced

    def close(self) -> None:
        self.store.dispose()


SLACK_ONLY = """
route:
  receiver: slack
  group_wait: 0s
receivers:
  - name: slack
    slack_configs:
      - api_url: http://127.0.0.1:1/hook
"""


SLACK_TOLD_RESOLVED = """
receivers:
  - name: slack
    slack_configs:
      - api_url: http://127.0.0.1:1/hook
        send_resolved: true
"""
"""A Slack receiver (that nothing answers) told of resolved alerts too: a configuration's end."""


def first_notice(directory: Path, **alert: Any) -> Notice:
    """The notice an alert with these fields gets at once from a Slack-only router."""
    pipeline = Pipeline(directory, SLACK_ONLY)
    try:
        pipeline.alert(**alert)
        [notice] = pipeline.tick(1)
    finally:
        pipeline.close()
    return notice


def incident_ids(notice: Notice, status: str | None = None) -> set[str]:
    return {
        a["labels"]["incident_id"] for a in notice.alerts if status is None or a["status"] == status
    }
