"""``router serve --workers N``: N HTTP workers on one port, one dispatching process, one
SQLite database."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from examples.waiting import wait_for
from observability.router import workers as workers_module
from observability.router.app import create_app
from observability.router.history import audit_entries
from observability.router.runtime import Role, RouterRuntime
from observability.router.settings import RouterSettings, load_router_settings
from observability.router.store import Store, active_digest
from observability.standins import StandIn
from tests.router.harness import FAST_TIMERS, RouterProcess, incident

pytestmark = pytest.mark.integration

WORKERS = 2


def dispatcher_pid(router: RouterProcess) -> int | None:
    """The process holding the dispatcher lock, as it wrote in the lock file (None if none)."""
    path = Path(router.database_url.removeprefix("sqlite:///") + "-dispatcher.lock")
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text.isdigit() else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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
    assert {(s["worker"]["role"], s["worker"]["dispatcher"]) for s in statuses.values()} == {
        ("ingest", False)
    }
    wait_for(lambda: dispatcher_pid(router) is not None, timeout=30, message="a dispatcher")
    dispatcher = dispatcher_pid(router)
    assert dispatcher not in statuses, "the dispatcher is a process of its own"
    assert dispatcher is not None
    # Below the HTTP workers' CPU priority by the default 5, relative to theirs (the suite may
    # itself run under `nice`), and capped where the kernel caps it.
    worker_nice = os.getpriority(os.PRIO_PROCESS, next(iter(statuses)))
    assert os.getpriority(os.PRIO_PROCESS, dispatcher) == min(worker_nice + 5, 19)
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


@pytest.mark.parametrize("file_at_late_start", ["newer", "broken"])
def test_a_process_still_starting_never_brings_back_the_configuration_it_read_first(
    tmp_path: Path, file_at_late_start: str
) -> None:
    """A worker reads the file when it starts and records its configuration as the active one
    a little later. If another worker reloaded a newer file meanwhile, the late one must not
    make the old one active again (and audit that as a reload): it takes the newer file, or,
    if the file is broken by then (an editor's save, half written), starts on what it read
    and leaves the record alone; otherwise the dispatcher would stop routing until the file
    is fixed."""
    settings = dispatcher_settings(tmp_path)
    first = RouterRuntime(settings, role=Role.INGEST)
    late = RouterRuntime(settings, role=Role.INGEST)  # has read the first file; not started
    old_digest = late.config.digest

    async def run() -> None:
        await first.start()
        try:
            newer = grouped_config("http://127.0.0.1:9/hook", "incident_id")
            settings.config_file.write_text(newer)
            assert first.reload("api").changed
            if file_at_late_start == "broken":
                settings.config_file.write_text("route: [half, written")
            await late.start()
            await late.stop()
        finally:
            await first.stop()

    asyncio.run(run())
    new_digest = first.config.digest
    assert new_digest != old_digest
    expected_late = new_digest if file_at_late_start == "newer" else old_digest
    assert late.config.digest == expected_late
    with first.store.read() as connection:
        assert active_digest(connection) == new_digest
        reloads = [e for e in audit_entries(connection) if e["action"] == "config.reload"]
    first.store.dispose()
    late.store.dispose()
    assert [entry["detail"]["digest"] for entry in reloads] == [new_digest]


def test_a_process_starts_with_what_it_read_if_the_file_broke_meanwhile(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = dispatcher_settings(tmp_path)
    runtime = RouterRuntime(settings, role=Role.INGEST)
    read = runtime.config.digest
    settings.config_file.write_text("route: [not, a, route]\n")

    async def run() -> None:
        await runtime.start()
        await runtime.stop()

    asyncio.run(run())
    with runtime.store.read() as connection:
        assert active_digest(connection) == read
    runtime.store.dispose()
    assert runtime.config.digest == read
    assert "the configuration file changed and is refused" in caplog.text


def test_when_the_dispatching_process_dies_the_supervisor_starts_another(
    router_factory: Any, fakes: dict[str, StandIn]
) -> None:
    webhook = fakes["webhook"]
    config = grouped_config(webhook.url).replace("group_wait: 5s", "group_wait: 0s")
    router: RouterProcess = router_factory(config, workers=2)
    wait_for(lambda: dispatcher_pid(router) is not None, timeout=30, message="a dispatcher")
    first = dispatcher_pid(router)
    assert first is not None
    os.kill(first, signal.SIGKILL)
    # Accepted while nobody dispatches: journaled, applied and delivered by the next one.
    assert router.post_incident(incident("during-restart", dag_id="dag_1")).status_code == 200

    def replaced() -> bool:
        pid = dispatcher_pid(router)
        return pid not in (None, first) and pid is not None and process_alive(pid)

    wait_for(replaced, timeout=30, message="a new dispatching process")
    assert router.post_incident(incident("after-kill", dag_id="dag_2")).status_code == 200

    def delivered() -> set[str]:
        return {
            alert["labels"]["incident_id"] for body in webhook.bodies() for alert in body["alerts"]
        }

    wait_for(
        lambda: {"during-restart", "after-kill"} <= delivered(),
        timeout=30,
        message="both alerts delivered by the new dispatcher",
    )
    assert "starting another" in router.log()
    assert len(router.statuses()) == 2, "the HTTP workers kept serving"


def test_metrics_of_every_process_add_up_on_any_worker(
    router_factory: Any, fakes: dict[str, StandIn]
) -> None:
    """Requests are counted by the worker that took them, deliveries by the dispatching
    process: every worker's /metrics shows the sum of all of them."""
    webhook = fakes["webhook"]
    config = grouped_config(webhook.url).replace("group_wait: 5s", "group_wait: 0s")
    router: RouterProcess = router_factory(config, workers=WORKERS)
    ids = [f"m-{index}" for index in range(40)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda i: router.post_incident(incident(i, dag_id="dag_m")), ids + ids[:5])
        )
    assert [a.status_code for a in answers] == [200] * len(answers), answers[0].text
    refused = router.ingest.post("/v1/webhooks/cloud-monitoring", content=b"{}")
    assert refused.status_code == 401

    def scraped() -> list[str]:
        # Each scrape on a new connection: the kernel hands them to different workers.
        return [httpx.get(f"{router.url}/metrics", timeout=10).text for _ in range(8)]

    def sample(text: str, name: str) -> float:
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and not line.startswith("#")
        )

    stored = 'composer_obs_router_alerts_received_total{outcome="stored",source="cloud_monitoring"}'
    duplicates = (
        'composer_obs_router_alerts_received_total{outcome="duplicate",source="cloud_monitoring"}'
    )
    wait_for(
        lambda: all(sample(text, stored) == len(ids) for text in scraped()),
        timeout=30,
        message="every worker counts what the dispatching process stored",
    )
    for text in scraped():
        assert sample(text, duplicates) == 5
        assert (
            sample(text, 'composer_obs_router_requests_invalid_total{reason="unauthorized"}') == 1
        )
        assert sample(text, "composer_obs_router_ingest_latency_seconds_count") == len(ids) + 5
        assert sample(text, "composer_obs_router_config_last_reload_successful") == 1
        assert "composer_obs_router_outbox_depth" in text
    wait_for(
        lambda: (
            sample(
                httpx.get(f"{router.url}/metrics", timeout=10).text,
                "composer_obs_router_notifications_total",
            )
            >= 1
        ),
        timeout=30,
        message="deliveries counted",
    )


def test_reloads_while_the_processes_start_do_not_kill_them(
    router_factory: Any, fakes: dict[str, StandIn], tmp_path: Path
) -> None:
    """SIGHUPs relayed to processes still importing used to end them (SIGHUP's default
    action) and spend the supervisor's restart budget: now they start with it blocked."""
    router = RouterProcess(tmp_path / "hup", grouped_config(fakes["webhook"].url), workers=WORKERS)
    started = threading.Thread(target=router.start)
    started.start()
    try:
        wait_for(
            lambda: "dispatching process" in router.log(),
            timeout=30,
            message="the supervisor's signal handlers are installed",
        )
        assert router.process is not None
        for _ in range(10):
            router.process.send_signal(signal.SIGHUP)
            time.sleep(0.1)
        started.join(60)
        assert len(router.statuses()) == WORKERS
        assert "exited with" not in router.log(), router.log()
    finally:
        started.join(60)
        router.close()


def failing_dispatch(runtime: RouterRuntime) -> RouterRuntime:
    """``runtime``, whose take-over fails: the database refuses the outbox release."""

    def unusable() -> int:
        raise OperationalError("UPDATE outbox", {}, Exception("database is locked"))

    runtime.outbox.release_all = unusable  # type: ignore[method-assign]
    return runtime


def dispatcher_settings(tmp_path: Path) -> RouterSettings:
    config = tmp_path / "router.yaml"
    config.write_text(grouped_config("http://127.0.0.1:9/hook"))
    return load_router_settings(
        config_file=config,
        database_url=f"sqlite:///{tmp_path / 'router.db'}",
        allow_unauthenticated=True,
        poll_interval=0.05,
    )


def test_a_dispatching_process_whose_dispatching_fails_exits_to_be_restarted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = failing_dispatch(RouterRuntime(dispatcher_settings(tmp_path), role=Role.DISPATCH))
    with pytest.raises(SystemExit) as exited:
        asyncio.run(
            asyncio.wait_for(workers_module._dispatch_until_stopped(runtime, os.getppid()), 30)
        )
    assert exited.value.code == 1
    assert "dispatching stopped" in caplog.text and "database is locked" in caplog.text


def test_healthz_fails_when_dispatching_has_stopped(tmp_path: Path) -> None:
    """One process (Role.ALL) whose dispatching failed: /healthz answers 503 and says why,
    so that a liveness probe restarts it."""
    app = create_app(dispatcher_settings(tmp_path))
    runtime = failing_dispatch(app.state.runtime)

    async def run() -> httpx.Response:
        await runtime.start()
        try:
            await asyncio.wait_for(asyncio.wait([runtime.dispatching_ended()]), 30)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
                return await client.get("/healthz")
        finally:
            await runtime.stop()

    answer = asyncio.run(run())
    assert answer.status_code == 503
    assert "dispatching stopped" in answer.json()["error"]
    assert "database is locked" in answer.json()["error"]


def test_a_reload_signal_during_a_graceful_stop_does_not_end_the_process(tmp_path: Path) -> None:
    """One process: once the lifespan's reload handler is gone, SIGHUP is ignored (its
    default action would end the process before it finished stopping)."""
    app = create_app(dispatcher_settings(tmp_path))
    previous = signal.signal(signal.SIGHUP, signal.SIG_DFL)

    async def run() -> object:
        async with app.router.lifespan_context(app):
            pass
        return signal.getsignal(signal.SIGHUP)

    try:
        after_stop = asyncio.run(run())
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert after_stop == signal.SIG_IGN
