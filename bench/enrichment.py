"""What the router's enrichment (the cause read back from Cloud Logging) costs a notice, and
that ingest does not wait on it.

Everything runs as users run it, each in its own process on 127.0.0.1: the emulator (Cloud
Logging over gRPC, the Composer API over REST) holding the default log-based metrics and, per
DAG, a failed task (exception, fingerprint, try 2 of 3) and its failed DAG run; router
processes (``composer-obs router serve``, SQLite) that differ only in enrichment: **off**
(``enrichment: {enabled: false}``), **on** (reading the emulator) and **on, Cloud Logging
slow** (reading a peer that accepts connections and never answers, so every lookup runs into
the 2 s budget); each delivers to a webhook stand-in of its own.

Printed, in one run:

* delivery latency per notice, from the incident's POST to the stand-in's receipt, for
  routers off and on, alternating one incident at a time (each a new ``dag_run_failures``
  incident: the full lookup of a failed run, its task failures, the fingerprint's
  recurrence, the task log's tail and the environment's Airflow URL), median and p99, and
  the difference: the latency enrichment adds;
* ingest: incidents acknowledged per second, a burst of ``BURST`` new incidents (in 200
  DAGs) from 16 connections at once, for each of the three routers, each on a fresh router
  process (the lookups and deliveries the burst starts run meanwhile, in the same process);
  the three alternate, ``ROUNDS`` times, and the medians are compared.

It ends with one line ``RESULT key=value ...``.

    python bench/enrichment.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from observability.child_process import child_process  # noqa: E402
from observability.emit.entry import EntryTarget, to_entry  # noqa: E402
from observability.emulator.process import (  # noqa: E402
    emulator_process,
    free_port_pair,
    wait_for_port,
)
from observability.events import Event  # noqa: E402
from observability.gcp import Endpoint  # noqa: E402
from observability.provision.api import Api  # noqa: E402
from observability.provision.apply import apply_plan  # noqa: E402
from observability.provision.plan import plan_from_api  # noqa: E402
from observability.provision.source import Variables  # noqa: E402
from observability.provision.spec import Spec, load_metrics  # noqa: E402
from observability.standins import HangingPeer, WebhookStandIn  # noqa: E402

PROJECT = "bench-enrichment"
LOCATION, ENVIRONMENT = "europe-west1", "prod"
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "40"))
"""Incidents timed per router (on and off), one at a time."""
BURST = int(os.environ.get("BENCH_BURST", "300"))
ROUNDS = 2
CONNECTIONS = 16
TOKEN = "bench-ingest-token-0123456789"
ADMIN_TOKEN = "bench-admin-token-0123456789"
RUN_ID = "scheduled__2026-01-05T09:00:00+00:00"


def seed(emulator: Endpoint, dags: list[str]) -> None:
    """The default log-based metrics, the environment, and a failed run of each DAG."""
    spec = Spec()
    spec.metrics = load_metrics(
        ROOT / "log_metrics", Variables(explicit={}, fallbacks={"PROJECT": PROJECT}, environ={})
    )
    api = Api(PROJECT, emulator)
    try:
        if not apply_plan(plan_from_api(spec, api), api).ok:
            raise RuntimeError("provisioning the log-based metrics failed")
    finally:
        api.close()
    assert emulator.http_url is not None
    httpx.put(
        f"{emulator.http_url}/v1/emulator/projects/{PROJECT}/locations/{LOCATION}"
        f"/environments/{ENVIRONMENT}",
        json={"config": {"airflowUri": "https://prod-airflow.example"}},
    ).raise_for_status()
    target = EntryTarget(PROJECT, "composer-observability", LOCATION, ENVIRONMENT)
    when = datetime.now(timezone.utc) - timedelta(seconds=30)
    where = {"project_id": PROJECT, "location": LOCATION, "environment_name": ENVIRONMENT}
    events = []
    for index, dag in enumerate(dags):
        common = {**where, "dag_id": dag, "team": "data", "run_id": RUN_ID}
        events.append(
            {
                **common,
                "event_type": "task_failed",
                "timestamp": when,
                "task_id": "load",
                "try_number": 2,
                "max_tries": 3,
                "duration_s": 12.5,
                "log_url": f"https://prod-airflow.example/log?dag_id={dag}&task_id=load",
                "exception": {
                    "type": "ValueError",
                    "message": f"bad row {index}",
                    "fingerprint": f"{index % 7:016x}",
                },
            }
        )
        events.append(
            {
                **common,
                "event_type": "dag_run_failed",
                "timestamp": when + timedelta(seconds=1),
                "failed_task_ids": ["load"],
            }
        )
    entries = [to_entry(Event.model_validate(event), target, 256 * 1024) for event in events]
    for start in range(0, len(entries), 500):
        httpx.post(
            f"{emulator.http_url}/v2/entries:write",
            json={"entries": entries[start : start + 500]},
            timeout=60,
        ).raise_for_status()


def incident(incident_id: str, dag: str) -> dict[str, Any]:
    """A Cloud Monitoring webhook (schema 1.2) for the failed runs of ``dag``."""
    return {
        "version": "1.2",
        "incident": {
            "incident_id": incident_id,
            "scoping_project_id": PROJECT,
            "url": "https://console.cloud.google.com/monitoring/alerting/incidents/x",
            "started_at": int(time.time()) - 20,
            "ended_at": None,
            "state": "open",
            "summary": f"DAG {dag} failed",
            "policy_name": "Airflow DAG failed",
            "condition_name": "DAG run failed",
            "condition": {
                "displayName": "DAG run failed",
                "conditionThreshold": {
                    "aggregations": [{"alignmentPeriod": "60s"}],
                    "duration": "0s",
                },
            },
            "resource": {
                "type": "cloud_composer_environment",
                "labels": {
                    "project_id": PROJECT,
                    "location": LOCATION,
                    "environment_name": ENVIRONMENT,
                },
            },
            "metric": {
                "type": "logging.googleapis.com/user/composer_obs/dag_run_failures",
                "labels": {"dag_id": dag, "team": "data"},
            },
        },
    }


@contextmanager
def router(directory: Path, hook: WebhookStandIn, logging: tuple[str, str] | None) -> Iterator[str]:
    """A router process delivering to ``hook``; enrichment reads ``logging`` (gRPC target,
    REST host:port), or is off when None. Yields its URL."""
    directory.mkdir(parents=True)
    enrichment = "enrichment: {enabled: false}" if logging is None else ""
    (directory / "router.yaml").write_text(
        f"""
route:
  receiver: hook
  group_by: [incident_id]
  group_wait: 0s
receivers:
  - name: hook
    webhook_configs:
      - url: {hook.url}
{enrichment}
"""
    )
    port = free_port_pair()
    env = {
        "COMPOSER_OBS_ROUTER_INGEST_TOKEN": TOKEN,
        "COMPOSER_OBS_ROUTER_ADMIN_TOKEN": ADMIN_TOKEN,
        "COMPOSER_OBS_ROUTER_ACCESS_LOG": "false",
        "COMPOSER_OBS_ROUTER_POLL_INTERVAL": "0.2",
    }
    if logging is not None:
        env["COMPOSER_OBS_EMULATOR"], env["COMPOSER_OBS_EMULATOR_HTTP"] = logging
    command = [sys.executable, "-m", "observability.router", "serve", "--port", str(port)]
    command += ["--config", str(directory / "router.yaml"), "--log-level", "warning"]
    command += ["--database-url", f"sqlite:///{directory / 'router.db'}"]

    def ready(_: Any) -> None:
        wait_for_port(port, timeout=60)

    with child_process(command, ready, env=env, log=directory / "router.log"):
        yield f"http://127.0.0.1:{port}"


def delivered_at(hook: WebhookStandIn, incident_id: str, timeout: float = 30) -> float:
    """When (monotonic) ``hook`` received the notice of ``incident_id``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in list(hook.received):
            if any(a["labels"].get("incident_id") == incident_id for a in item.body["alerts"]):
                return item.at
        time.sleep(0.002)
    raise TimeoutError(f"no notice of {incident_id} within {timeout} s")


def latencies(
    routers: dict[str, tuple[str, WebhookStandIn]], dags: list[str]
) -> dict[str, list[float]]:
    """Seconds from POST to receipt, per router, one incident at a time, alternating."""
    found: dict[str, list[float]] = {name: [] for name in routers}
    clients = {name: httpx.Client(base_url=url, timeout=30) for name, (url, _) in routers.items()}
    try:
        for index in range(SAMPLES + 2):
            for name, (_, hook) in routers.items():
                incident_id = f"latency-{name}-{index}"
                started = time.monotonic()
                answer = clients[name].post(
                    "/v1/webhooks/cloud-monitoring",
                    json=incident(incident_id, dags[index % len(dags)]),
                    params={"auth_token": TOKEN},
                )
                answer.raise_for_status()
                if index >= 2:  # the first two warm the clients and caches
                    found[name].append(delivered_at(hook, incident_id) - started)
                else:
                    delivered_at(hook, incident_id)
    finally:
        for client in clients.values():
            client.close()
    return found


async def ingest_rate(url: str, name: str, dags: list[str]) -> float:
    """Incidents acknowledged per second: ``BURST`` new ones from ``CONNECTIONS`` at once."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(BURST):
        queue.put_nowait(index)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            body = incident(f"burst-{name}-{index}", dags[index % len(dags)])
            answer = await client.post(
                "/v1/webhooks/cloud-monitoring", json=body, params={"auth_token": TOKEN}
            )
            answer.raise_for_status()

    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        started = time.monotonic()
        await asyncio.gather(*(sender(client) for _ in range(CONNECTIONS)))
        return BURST / (time.monotonic() - started)


def summary(values: list[float]) -> tuple[float, float]:
    """(median, p99) in milliseconds."""
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def main() -> None:
    started = time.monotonic()
    dags = [f"dag_{index:03d}" for index in range(200)]
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="enrichment-bench-") as tmp, ExitStack() as stack:
        directory = Path(tmp)
        emulator = stack.enter_context(emulator_process(directory / "emulator"))
        assert emulator.grpc_target and emulator.http_url
        seed(emulator, dags)
        hanging = HangingPeer()
        stack.callback(hanging.close)
        sources: dict[str, tuple[str, str] | None] = {
            "off": None,
            "on": (emulator.grpc_target, emulator.http_url.removeprefix("http://")),
            "slow": (hanging.target, hanging.target),
        }
        with ExitStack() as timing:
            routers: dict[str, tuple[str, WebhookStandIn]] = {}
            for name in ("off", "on"):
                hook = WebhookStandIn(name=name)
                hook.start()
                timing.callback(hook.stop)
                url = timing.enter_context(router(directory / name, hook, sources[name]))
                routers[name] = (url, hook)
            timed = latencies(routers, dags)
        off, on = summary(timed["off"]), summary(timed["on"])
        print(f"delivery latency per notice, {SAMPLES} incidents each, POST to receipt:")
        print(f"  enrichment off: median {off[0]:7.1f} ms   p99 {off[1]:7.1f} ms")
        print(f"  enrichment on:  median {on[0]:7.1f} ms   p99 {on[1]:7.1f} ms")
        added = (on[0] - off[0], on[1] - off[1])
        print(f"  added:          median {added[0]:7.1f} ms   p99 {added[1]:7.1f} ms")
        results.update(
            off_p50_ms=off[0],
            off_p99_ms=off[1],
            on_p50_ms=on[0],
            on_p99_ms=on[1],
            added_p50_ms=added[0],
            added_p99_ms=added[1],
        )
        # each burst on a fresh router of its own, stopped after, so that no other router's
        # deliveries and lookups compete with it; the three alternate, ROUNDS times
        print(f"ingest, {BURST} new incidents from {CONNECTIONS} connections, per round:")
        rates: dict[str, list[float]] = {name: [] for name in sources}
        for round_number in range(ROUNDS):
            for name, logging in sources.items():
                hook = WebhookStandIn(name=name)
                hook.start()
                try:
                    where = directory / f"burst-{name}-{round_number}"
                    with router(where, hook, logging) as url:
                        rates[name].append(asyncio.run(ingest_rate(url, where.name, dags)))
                finally:
                    hook.stop()
        for name, measured in rates.items():
            results[f"ingest_{name}_per_s"] = statistics.median(measured)
            shown = ", ".join(f"{rate:.0f}" for rate in measured)
            print(f"  enrichment {name:4}: {shown} incidents/s acknowledged")
        results["ingest_on_vs_off"] = results["ingest_on_per_s"] / results["ingest_off_per_s"]
        results["ingest_slow_vs_off"] = results["ingest_slow_per_s"] / results["ingest_off_per_s"]
        print(
            f"  medians: on/off {results['ingest_on_vs_off']:.2f}, "
            f"slow/off {results['ingest_slow_vs_off']:.2f}"
        )
        calls = httpx.get(f"{emulator.http_url}/v1/emulator/calls").json()["grpc"]
        lookups = calls.get("/google.logging.v2.LoggingServiceV2/ListLogEntries", 0)
        results["list_entries_calls"] = lookups
        print(f"ListLogEntries calls the emulator answered: {lookups}")
    results["seconds"] = time.monotonic() - started
    results["load_average"] = os.getloadavg()[0]
    print(f"load average at the end: {results['load_average']:.1f} (2 cores)")
    print("RESULT " + " ".join(f"{key}={value:.3g}" for key, value in results.items()))


if __name__ == "__main__":
    main()
