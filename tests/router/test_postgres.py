"""Two router processes sharing one PostgreSQL send each notification once."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from examples.waiting import wait_for
from observability.standins import PagerDutyStandIn, StandIn
from tests.router.harness import FAST_TIMERS, incident
from tests.support.postgres import postgres_bin_dir, postgres_server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        postgres_bin_dir() is None,
        reason="PostgreSQL server binaries not installed (apt-get install postgresql)",
    ),
]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def test_two_replicas_on_one_postgres_send_each_notification_once(
    router_factory: Any, fakes: dict[str, StandIn], postgres_url: str
) -> None:
    pagerduty, slack = fakes["pagerduty"], fakes["slack"]
    config = (
        f"""
route:
  receiver: both
  group_by: [incident_id]
  group_wait: 500ms
  group_interval: 1h
receivers:
  - name: both
    pagerduty_configs:
      - routing_key: {PagerDutyStandIn.routing_key}
        url: {pagerduty.url}
    slack_configs:
      - api_url: {slack.url}
        send_resolved: true
"""
        + FAST_TIMERS
    )
    first = router_factory(config, name="replica-a", database_url=postgres_url)
    second = router_factory(config, name="replica-b", database_url=postgres_url)
    assert first.admin.get("/api/v2/status").json()["database"] == "postgresql"
    rng = random.Random(7)
    ids = [f"pg-{index}" for index in range(150)]

    def deliver(incident_id: str) -> None:
        # Each incident reaches one replica, and a retry of it reaches the other.
        body = incident(incident_id, dag_id=f"dag_{incident_id}")
        replicas = [first, second]
        rng.shuffle(replicas)
        for replica in replicas:
            assert replica.post_incident(body).status_code == 200

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(deliver, ids))
    wait_for(lambda: len(pagerduty.bodies()) >= len(ids), timeout=60, message="every page")
    wait_for(lambda: len(slack.bodies()) >= len(ids), timeout=60, message="every Slack notice")
    closing = ids[:50]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: first.post_incident(incident(i, state="closed", dag_id=f"dag_{i}")),
                closing,
            )
        )
    # A closed incident's group flushes at its next group_interval (1h): nothing more yet.
    pages = Counter((b["dedup_key"], b["event_action"]) for b in pagerduty.bodies())
    assert set(pages) == {(incident_id, "trigger") for incident_id in ids}
    assert max(pages.values()) == 1, [key for key, count in pages.items() if count > 1]
    assert len(slack.bodies()) == len(ids)
    both_logs = first.log() + second.log()
    assert "Traceback" not in both_logs
