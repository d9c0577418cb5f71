"""Durability: kill -9 in the middle of a storm, restart, and everything is delivered."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from examples.waiting import wait_for
from observability.router.store import Store
from observability.standins import StandIn
from tests.router.harness import FAST_TIMERS, RouterProcess, incident

pytestmark = pytest.mark.integration


def storm_config(webhook_url: str) -> str:
    return (
        f"""
route:
  receiver: hook
  group_by: [alertname, dag_id]
  group_wait: 500ms
  group_interval: 1s
receivers:
  - name: hook
    webhook_configs: [{{url: "{webhook_url}"}}]
"""
        + FAST_TIMERS
    )


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "two-workers"])
def test_kill_9_mid_storm_then_restart_delivers_everything(
    router_factory: Any, fakes: dict[str, StandIn], workers: int
) -> None:
    webhook = fakes["webhook"]
    router: RouterProcess = router_factory(storm_config(webhook.url), name="first", workers=workers)
    acknowledged: set[str] = set()
    lock = threading.Lock()

    def send(index: int, target: RouterProcess) -> None:
        incident_id = f"kill-{index}"
        body = incident(incident_id, dag_id=f"dag_{index % 60}")
        try:
            answer = target.post_incident(body)
        except httpx.HTTPError:
            return  # the router died under this request: not acknowledged, Monitoring retries
        if answer.status_code == 200:
            with lock:
                acknowledged.add(incident_id)

    def storm(indexes: range, target: RouterProcess) -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: send(i, target), indexes))

    thread = threading.Thread(target=storm, args=(range(0, 300), router))
    thread.start()
    wait_for(lambda: len(acknowledged) >= 120, message="half the storm stored")
    router.kill9()
    thread.join()
    sent_before = len(acknowledged)
    assert 120 <= sent_before < 300
    # Monitoring retries what was not acknowledged; the restarted router takes it all.
    restarted = RouterProcess(
        router.directory,
        router.config_path.read_text(),
        database_url=router.database_url,
        workers=workers,
    )
    restarted.log_path = router.directory / "router-restarted.log"
    restarted.start()
    try:
        storm(range(0, 300), restarted)
        assert len(acknowledged) == 300

        def delivered() -> set[str]:
            return {
                alert["labels"]["incident_id"]
                for body in webhook.bodies()
                for alert in body["alerts"]
            }

        wait_for(
            lambda: delivered() >= acknowledged,
            timeout=60,
            message="every acknowledged incident delivered",
        )
        # At least once, not many times: each of the 60 groups was told at most a few times.
        per_group: dict[str, int] = {}
        for body in webhook.bodies():
            per_group[body["groupKey"]] = per_group.get(body["groupKey"], 0) + 1
        assert len(per_group) == 60
        assert max(per_group.values()) <= 6, per_group
    finally:
        restarted.close()
    store = Store(router.database_url)
    try:
        with store.read() as connection:
            waiting = connection.exec_driver_sql("SELECT count(*) FROM outbox").scalar()
        assert waiting == 0
    finally:
        store.dispose()
