"""Enrichment end to end: a router process (uvicorn) reading causes from an emulator process.

What is checked is what a person paged would see (PagerDuty's and Slack's stand-ins, the
webhook's annotations) and what Cloud Logging was asked (the emulator counts its calls).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from observability.emit.entry import EntryTarget, to_entry
from observability.emulator.process import free_port
from observability.events import Event
from observability.gcp import Endpoint
from observability.provision.api import Api
from observability.provision.apply import apply_plan
from observability.provision.plan import plan_from_api
from observability.provision.source import Variables
from observability.provision.spec import Spec, load_metrics
from observability.standins import PagerDutyStandIn, StandIn
from tests.router.harness import INGEST_TOKEN, RouterProcess, incident
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

LOG_METRICS = Path(__file__).resolve().parents[2] / "log_metrics"
LIST = "/google.logging.v2.LoggingServiceV2/ListLogEntries"
GET_METRIC = "/google.logging.v2.MetricsServiceV2/GetLogMetric"
BUDGET = 1.0
STORM = int(__import__("os").environ.get("STORM", "1000"))
BUDGET_TEXT = "1s"


def _config(fakes: dict[str, StandIn], budget: str) -> str:
    return f"""
route:
  receiver: pager
  group_by: [dag_id]
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: pager
    pagerduty_configs:
      - routing_key: {PagerDutyStandIn.routing_key}
        url: {fakes["pagerduty"].url}
    slack_configs:
      - api_url: {fakes["slack"].url}
    webhook_configs:
      - url: {fakes["webhook"].url}
enrichment:
  budget: {budget}
"""


@pytest.fixture
def seeded(emulator: Endpoint, project: str) -> Callable[[list[Event]], None]:
    """The default log-based metrics in ``project``, and a writer of events to it."""
    spec = Spec()
    spec.metrics = load_metrics(
        LOG_METRICS, Variables(explicit={}, fallbacks={"PROJECT": project}, environ={})
    )
    api = Api(project, emulator)
    try:
        assert apply_plan(plan_from_api(spec, api), api).ok
    finally:
        api.close()
    response = httpx.put(
        f"{emulator.http_url}/v1/emulator/projects/{project}/locations/europe-west1"
        "/environments/prod",
        json={"config": {"airflowUri": "https://prod-airflow.example"}},
    )
    assert response.status_code == 200
    target = EntryTarget(project, "composer-observability", "europe-west1", "prod")

    def write(events: list[Event]) -> None:
        entries = [to_entry(event, target, 256 * 1024) for event in events]
        response = httpx.post(f"{emulator.http_url}/v2/entries:write", json={"entries": entries})
        assert response.status_code == 200, response.text

    return write


def _incident(project: str, incident_id: str, metric: str, **labels: str) -> dict[str, Any]:
    body = incident(incident_id, started_at=time.time() - 60, **labels)
    body["incident"]["scoping_project_id"] = project
    body["incident"]["resource"]["labels"]["project_id"] = project
    body["incident"]["metric"]["type"] = f"logging.googleapis.com/user/composer_obs/{metric}"
    return body


def _router(
    router_factory: Callable[..., RouterProcess],
    fakes: dict[str, StandIn],
    emulator: Endpoint,
    budget: str = "2s",
) -> RouterProcess:
    """A router reading Cloud Logging at ``emulator`` (gRPC; the Composer API over REST)."""
    return router_factory(_config(fakes, budget), extra_env=_reading(emulator))


def _reading(emulator: Endpoint) -> dict[str, str]:
    """The router's environment for reading Cloud Logging at ``emulator``."""
    assert emulator.grpc_target and emulator.http_url
    return {
        "COMPOSER_OBS_EMULATOR": emulator.grpc_target,
        "COMPOSER_OBS_EMULATOR_HTTP": emulator.http_url.removeprefix("http://"),
    }


def _pages(fakes: dict[str, StandIn], incident_id: str) -> list[dict[str, Any]]:
    return [b for b in fakes["pagerduty"].bodies() if b.get("dedup_key") == incident_id]


def _calls(emulator: Endpoint) -> dict[str, int]:
    return dict(httpx.get(f"{emulator.http_url}/v1/emulator/calls").json()["grpc"])


def _failure(project: str, dag: str, task: str, when: datetime, **extra: Any) -> Event:
    return Event.model_validate(
        {
            "event_type": "task_failed",
            "timestamp": when,
            "project_id": project,
            "location": "europe-west1",
            "environment_name": "prod",
            "dag_id": dag,
            "task_id": task,
            "team": "data",
            "run_id": "scheduled__2026-01-05T09:00:00+00:00",
            "try_number": 2,
            "max_tries": 3,
            "duration_s": 12.5,
            "log_url": f"https://prod-airflow.example/log?dag_id={dag}&task_id={task}",
            **extra,
        }
    )


def test_each_default_log_metric_gives_its_cause(
    emulator: Endpoint,
    project: str,
    seeded: Callable[[list[Event]], None],
    fakes: dict[str, StandIn],
    router_factory: Callable[..., RouterProcess],
) -> None:
    now = datetime.now(timezone.utc) - timedelta(seconds=30)
    exception = {"type": "ValueError", "message": "bad row 7 password=***", "fingerprint": "f" * 16}
    call = {"service": "stripe", "operation": "charge", "latency_ms": 95.0}
    seeded(
        [
            _failure(project, "orders", "load", now, exception=exception),
            _failure(project, "billing", "bill", now, event_type="task_up_for_retry"),
            Event.model_validate(
                {
                    "event_type": "dag_run_failed",
                    "timestamp": now + timedelta(seconds=1),
                    "project_id": project,
                    "dag_id": "orders",
                    "team": "data",
                    "run_id": "scheduled__2026-01-05T09:00:00+00:00",
                    "failed_task_ids": ["load"],
                }
            ),
            *[
                Event.model_validate(
                    {
                        "event_type": "third_party_call",
                        "timestamp": now,
                        "project_id": project,
                        "dag_id": "pay",
                        "third_party": {**call, **outcome, "target_host": "api.stripe.com"},
                    }
                )
                for outcome in (
                    {"outcome": "error", "status_code": 503, "error_type": "HTTPError"},
                    {"outcome": "timeout", "error_type": "ReadTimeout"},
                )
            ],
        ]
    )
    router = _router(router_factory, fakes, emulator)
    cases = {
        "i-task": ("task_failures", {"dag_id": "orders", "task_id": "load"}),
        "i-retry": ("task_retries", {"dag_id": "billing", "task_id": "bill"}),
        "i-run": ("dag_run_failures", {"dag_id": "orders"}),
        "i-calls": ("third_party_calls", {"dag_id": "pay", "service": "stripe"}),
    }
    for incident_id, (metric, labels) in cases.items():
        router.post_incident(_incident(project, incident_id, metric, **labels))
    for incident_id in cases:
        wait_for(lambda i=incident_id: _pages(fakes, i), timeout=20, message=incident_id)
    task = _pages(fakes, "i-task")[0]
    assert task["payload"]["summary"].startswith(
        "load failed (try 2 of 3, 12.5 s): ValueError: bad row 7 password=*** | "
    )
    cause = task["payload"]["custom_details"]["cause"]
    assert cause["error"]["recurrence_text"] == "new: first seen now"
    links = {link["text"]: link["href"] for link in task["links"]}
    assert links["Task log"] == "https://prod-airflow.example/log?dag_id=orders&task_id=load"
    assert links["DAG run"] == (
        "https://prod-airflow.example/dags/orders/grid?"
        "dag_run_id=scheduled__2026-01-05T09%3A00%3A00%2B00%3A00"
    )
    assert links["Logs Explorer"].startswith("https://console.cloud.google.com/logs/query;query=")
    assert "bill failed (try 2 of 3" in _pages(fakes, "i-retry")[0]["payload"]["summary"]
    run = _pages(fakes, "i-run")[0]["payload"]["custom_details"]["cause"]
    assert run["event_type"] == "dag_run_failed" and run["tasks"][0]["task_id"] == "load"
    calls = _pages(fakes, "i-calls")[0]["payload"]["summary"]
    assert "1x stripe error 503 HTTPError to api.stripe.com" in calls
    assert "1x stripe timeout ReadTimeout to api.stripe.com" in calls
    slack = [str(b) for b in fakes["slack"].bodies() if "load failed (try 2" in str(b)]
    assert slack and "```ValueError: bad row 7 password=***```" in slack[0]


class _Hanging:
    """A TCP peer that accepts and never answers (a Cloud Logging that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def _denying() -> tuple[grpc.Server, int]:
    """A gRPC server that refuses every call as Google does without the role."""

    def deny(_: bytes, context: grpc.ServicerContext) -> bytes:
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "Permission denied for logging")
        return b""

    class Deny(grpc.GenericRpcHandler):
        def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(deny)

    server = grpc.server(ThreadPoolExecutor(2))
    server.add_generic_rpc_handlers([Deny()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


@pytest.fixture(params=["down", "slow", "denied"])
def broken_logging(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(gRPC target, words the notice must say) for a Cloud Logging that fails that way."""
    if request.param == "down":
        yield f"127.0.0.1:{free_port()}", "Cloud Logging is unreachable"
    elif request.param == "slow":
        peer = _Hanging()
        yield f"127.0.0.1:{peer.port}", "did not answer"
        peer.close()
    else:
        server, port = _denying()
        yield f"127.0.0.1:{port}", "lacks roles/logging.viewer"
        server.stop(0)


def test_a_failing_cloud_logging_costs_at_most_the_budget(
    project: str,
    fakes: dict[str, StandIn],
    router_factory: Callable[..., RouterProcess],
    broken_logging: tuple[str, str],
) -> None:
    target, words = broken_logging
    router = _router(router_factory, fakes, Endpoint(target, "http://127.0.0.1:9"), BUDGET_TEXT)
    # a first page, so that what is timed is the steady state (not the clients' first import)
    router.post_incident(_incident(project, "i-first", "task_failures", dag_id="a", task_id="b"))
    wait_for(lambda: _pages(fakes, "i-first"), timeout=10, message="first page")
    started = time.monotonic()
    router.post_incident(_incident(project, "i-broken", "task_failures", dag_id="d", task_id="t"))
    wait_for(lambda: _pages(fakes, "i-broken"), timeout=10, message="page")
    elapsed = time.monotonic() - started
    assert elapsed <= BUDGET + 1.0, elapsed
    details = _pages(fakes, "i-broken")[0]["payload"]["custom_details"]
    assert details["cause_unavailable"].startswith("details unavailable: ")
    assert words in details["cause_unavailable"]
    assert "details unavailable" in str(fakes["slack"].bodies())


def test_a_restart_between_trigger_and_resolve_reuses_the_cause(
    emulator: Endpoint,
    project: str,
    seeded: Callable[[list[Event]], None],
    fakes: dict[str, StandIn],
    router_factory: Callable[..., RouterProcess],
) -> None:
    exception = {"type": "KeyError", "message": "'sku'", "fingerprint": "a" * 16}
    now = datetime.now(timezone.utc) - timedelta(seconds=30)
    seeded([_failure(project, "shop", "sync", now, exception=exception)])
    body = _incident(project, "i-restart", "task_failures", dag_id="shop", task_id="sync")
    router = _router(router_factory, fakes, emulator)
    router.post_incident(body)
    webhook = fakes["webhook"]

    def annotations(status: str) -> list[dict[str, str]]:
        return [
            alert["annotations"]
            for payload in webhook.bodies()
            for alert in payload["alerts"]
            if alert["labels"].get("incident_id") == "i-restart" and alert["status"] == status
        ]

    wait_for(lambda: annotations("firing"), timeout=20, message="trigger")
    before = _calls(emulator)
    router.stop()
    router.start()
    closed = _incident(project, "i-restart", "task_failures", dag_id="shop", task_id="sync")
    closed["incident"].update(state="closed", ended_at=int(time.time()))
    router.post_incident(closed)
    wait_for(lambda: annotations("resolved"), timeout=20, message="resolve")
    assert annotations("resolved")[0]["cause"] == annotations("firing")[0]["cause"]
    assert annotations("resolved")[0]["cause_error"] == "KeyError: 'sku'"
    after = _calls(emulator)
    assert after.get(LIST, 0) == before.get(LIST, 0), "the restarted router queried again"


def test_a_storm_queries_cloud_logging_once_per_incident(
    emulator: Endpoint,
    project: str,
    seeded: Callable[[list[Event]], None],
    fakes: dict[str, StandIn],
    router_factory: Callable[..., RouterProcess],
) -> None:
    """1,000 incidents in 200 groups (DAGs), each group told again as it grows: one lookup
    per incident, whatever the number of notices that carry it. (Under this load some
    lookups miss the budget: those notices leave with "details unavailable", on time.)"""
    config = f"""
route:
  receiver: hook
  group_by: [dag_id]
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: {fakes["webhook"].url}
"""
    router = router_factory(config, extra_env=_reading(emulator))
    before = _calls(emulator)
    ids = [f"storm-{n}" for n in range(STORM)]
    with httpx.Client(base_url=router.url, timeout=30) as client:
        for n, incident_id in enumerate(ids):
            body = _incident(project, incident_id, "task_failures", dag_id=f"dag-{n % 200}")
            response = client.post(
                "/v1/webhooks/cloud-monitoring", json=body, params={"auth_token": INGEST_TOKEN}
            )
            assert response.status_code == 200, response.text

    def told() -> set[str]:
        return {
            alert["labels"]["incident_id"]
            for payload in fakes["webhook"].bodies()
            for alert in payload["alerts"]
            if "cause" in alert["annotations"] or "cause_unavailable" in alert["annotations"]
        }

    wait_for(lambda: len(told()) >= len(ids), timeout=240, message="every incident told")
    # a notice may carry several alerts of its group: count the alerts told, not the notices
    carried = sum(len(payload["alerts"]) for payload in fakes["webhook"].bodies())
    after = _calls(emulator)
    lookups = after.get(LIST, 0) - before.get(LIST, 0)
    # no entries behind these incidents: a lookup is one ListLogEntries (no second round)
    assert 0 < lookups <= len(ids) <= carried, (lookups, carried)
    assert after.get(GET_METRIC, 0) - before.get(GET_METRIC, 0) <= 1
