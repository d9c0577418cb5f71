"""``router serve --workers N``: several processes on one port and one SQLite database."""

from __future__ import annotations

import os
import random
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from observability.router.store import Store
from observability.standins import StandIn
from tests.router.harness import FAST_TIMERS, RouterProcess, incident
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

WORKERS = 2


def grouped_config(webhook_url: str, group_by: str = "dag_id") -> str:
    return (
        f"""
route:
  receiver: hook
  group_by: [{group_by}]
  group_wait: 5s
  group_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{{url: "{webhook_url}"}}]
"""
        + FAST_TIMERS
    )


def test_workers_store_each_alert_once_and_notify_each_group_once(
    router_factory: Any, fakes: dict[str, StandIn]
) -> None:
    webhook = fakes["webhook"]
    router: RouterProcess = router_factory(grouped_config(webhook.url), workers=WORKERS)
    statuses = router.statuses()
    assert len(statuses) == WORKERS, "every worker answers on the one port"
    assert sum(s["worker"]["dispatcher"] for s in statuses.values()) == 1
    ids = [f"w-{index}" for index in range(90)]
    # Each incident arrives twice (Monitoring retries), over 8 connections the kernel
    # spread over the workers.
    deliveries = ids + ids
    random.Random(3).shuffle(deliveries)
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda i: router.post_incident(incident(i, dag_id=f"dag_{i[-1]}")), deliveries)
        )
    assert all(answer.status_code == 200 for answer in answers)
    assert {answer.json()["status"] for answer in answers} == {"accepted"}

    def notified() -> list[str]:
        return [
            alert["labels"]["incident_id"] for body in webhook.bodies() for alert in body["alerts"]
        ]

    wait_for(lambda: len(notified()) >= len(ids), timeout=60, message="every alert notified")
    per_group = Counter(body["groupKey"] for body in webhook.bodies())
    assert len(per_group) == 10 and set(per_group.values()) == {1}, per_group
    assert sorted(notified()) == sorted(ids)
    store = Store(router.database_url)
    try:
        with store.read() as connection:
            stored = connection.exec_driver_sql("SELECT count(*) FROM alerts").scalar()
            events = connection.exec_driver_sql("SELECT count(*) FROM incident_events").scalar()
    finally:
        store.dispose()
    assert (stored, events) == (len(ids), len(ids))
    assert "Traceback" not in router.log()


def test_reload_reaches_every_worker_and_is_audited_once(
    router_factory: Any, fakes: dict[str, StandIn]
) -> None:
    webhook = fakes["webhook"]
    router: RouterProcess = router_factory(grouped_config(webhook.url), workers=WORKERS)
    before = {s["config"]["digest"] for s in router.statuses().values()}
    assert len(before) == 1
    router.config_path.write_text(grouped_config(webhook.url, group_by="incident_id"))
    answer = router.admin.post("/-/reload")
    assert answer.status_code == 200 and answer.json()["status"] == "reloaded"
    new_digest = answer.json()["digest"]
    assert new_digest not in before

    def everyone_reloaded() -> bool:
        statuses = router.statuses()
        return len(statuses) == WORKERS and all(
            s["config"]["digest"] == new_digest for s in statuses.values()
        )

    wait_for(everyone_reloaded, timeout=30, message="every worker on the new configuration")
    # SIGHUP to the supervisor reaches the workers too: a bad file is refused by each.
    router.config_path.write_text("route: [not, a, route]\n")
    assert router.process is not None
    router.process.send_signal(signal.SIGHUP)
    wait_for(
        lambda: router.log().count("reload failed") >= WORKERS,
        timeout=30,
        message="every worker refused the bad file",
    )
    assert {s["config"]["digest"] for s in router.statuses().values()} == {new_digest}
    audit = router.admin.get("/api/v1/audit").json()
    reloads = [entry for entry in audit if entry["action"] == "config.reload"]
    assert [entry["detail"]["digest"] for entry in reloads] == [new_digest]


def test_when_the_dispatching_worker_dies_another_takes_over(
    router_factory: Any, fakes: dict[str, StandIn]
) -> None:
    webhook = fakes["webhook"]
    config = grouped_config(webhook.url).replace("group_wait: 5s", "group_wait: 0s")
    router: RouterProcess = router_factory(config, workers=2)
    statuses = router.statuses()
    dispatcher = [pid for pid, s in statuses.items() if s["worker"]["dispatcher"]]
    assert len(dispatcher) == 1
    os.kill(dispatcher[0], signal.SIGKILL)

    def taken_over() -> bool:
        now = router.statuses()
        return (
            len(now) == 2
            and dispatcher[0] not in now
            and sum(s["worker"]["dispatcher"] for s in now.values()) == 1
        )

    wait_for(taken_over, timeout=30, message="a new dispatching worker, and a new worker")
    assert router.post_incident(incident("after-kill", dag_id="dag_1")).status_code == 200
    wait_for(
        lambda: any(
            alert["labels"]["incident_id"] == "after-kill"
            for body in webhook.bodies()
            for alert in body["alerts"]
        ),
        timeout=30,
        message="the alert delivered by the new dispatcher",
    )
    assert "starting another" in router.log()
