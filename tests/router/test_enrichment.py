"""Enrichment end to end: a router process (uvicorn) reading causes from an emulator process.

What is checked is what a person paged would see (PagerDuty's and Slack's stand-ins, the
webhook's annotations) and what Cloud Logging was asked (the emulator counts its calls).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import httpx
import pytest

from examples.waiting import wait_for
from observability.emit.entry import EntryTarget, to_entry
from observability.emulator.process import free_port
from observability.events import Event
from observability.gcp import Endpoint
from observability.provision.api import Api
from observability.provision.apply import apply_plan
from observability.provision.plan import plan_from_api
from observability.provision.source import Variables
from observability.provision.spec import Spec, load_metrics, load_policies
from observability.router.enrichment.query import rfc3339
from observability.standins import HangingPeer, PagerDutyStandIn, StandIn
from tests.router.harness import INGEST_TOKEN, RouterProcess, incident

pytestmark = pytest.mark.integration

LOG_METRICS = Path(__file__).resolve().parents[2] / "log_metrics"
ALERT_POLICIES = Path(__file__).resolve().parents[2] / "alert_policies"
LIST = "/google.logging.v2.LoggingServiceV2/ListLogEntries"
GET_METRIC = "/google.logging.v2.MetricsServiceV2/GetLogMetric"
BUDGET = 1.0
STORM_GROUPS = 200
BUDGET_TEXT = "1s"


def _config(fakes: dict[str, StandIn], budget: str) -> str:
    return f"""
route:
  receiver: pager
  group_by: [incident_id]
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


class Setting(NamedTuple):
    """What a test of a router reading the emulator's Cloud Logging works with."""

    emulator: Endpoint
    project: str
    seeded: Callable[[list[Event]], None]
    fakes: dict[str, StandIn]
    router_factory: Callable[..., RouterProcess]


@pytest.fixture
def setting(
    emulator: Endpoint,
    project: str,
    seeded: Callable[[list[Event]], None],
    fakes: dict[str, StandIn],
    router_factory: Callable[..., RouterProcess],
) -> Setting:
    return Setting(emulator, project, seeded, fakes, router_factory)


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


def _policy_incidents(project: str, labels: dict[str, dict[str, str]]) -> dict[str, Any]:
    """One incident per shipped alert policy, as Cloud Monitoring sends it: the condition as
    written, the metric's type from its filter, and the series' labels (``labels[key]``: a
    value for each ``metric.label`` the policy groups by)."""
    variables = Variables(explicit={}, fallbacks={"PROJECT": project}, environ={})
    policies = load_policies(ALERT_POLICIES, variables, {"router"}, set())
    bodies = {}
    for policy in policies:
        condition = policy.body["conditions"][0]
        threshold = condition.get("conditionThreshold") or condition["conditionAbsent"]
        metric_type = re.search(r'metric\.type="([^"]+)"', threshold["filter"])
        assert metric_type, threshold["filter"]
        grouped = {
            field.removeprefix("metric.label.")
            for aggregation in threshold["aggregations"]
            for field in aggregation.get("groupByFields", [])
            if field.startswith("metric.label.")
        }
        series = labels.get(policy.key, {})
        assert set(series) == grouped, (policy.key, grouped)
        body = incident(f"i-{policy.key}", started_at=time.time() - 60)
        body["incident"].update(
            scoping_project_id=project,
            policy_name=policy.body["displayName"],
            policy_user_labels=policy.body["userLabels"],
            condition_name=condition["displayName"],
            condition=condition,
        )
        body["incident"]["resource"]["labels"]["project_id"] = project
        body["incident"]["metric"] = {"type": metric_type.group(1), "labels": series}
        bodies[policy.key] = body
    return bodies


def _event(project: str, when: datetime, **fields: Any) -> Event:
    """An event of ``project``'s environment prod, as the callbacks or the watchdog write it."""
    where = {"project_id": project, "location": "europe-west1", "environment_name": "prod"}
    return Event.model_validate({"timestamp": when, "team": "data", **where, **fields})


def test_each_default_policy_gives_its_cause(
    setting: Setting,
) -> None:
    """Every shipped policy, its incident shaped as Monitoring sends it: the cause each notice
    carries, read back from the emulator's Cloud Logging by a router process. Policies on
    Composer's own metrics have no log entries behind them: no cause, and no complaint."""
    emulator, project, seeded, fakes, router_factory = setting
    now = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=30)
    exception = {"type": "ValueError", "message": "bad row 7 password=***", "fingerprint": "f" * 16}
    call = {"service": "stripe", "operation": "charge", "latency_ms": 95.0}
    failed_calls: list[dict[str, Any]] = [
        {"outcome": "error", "status_code": 503, "error_type": "HTTPError"},
        {"outcome": "timeout", "error_type": "ReadTimeout"},
    ]
    watchdog = {"detected_by": "watchdog"}
    # the watchdog's findings: (policy, (event type, DAG, task), reason, critical)
    findings = [
        (
            "airflow_task_stuck_or_late",
            ("task_stuck", "orders_hourly", "load"),
            "queued for 16 min; pool default_pool has 0 open slots",
            False,
        ),
        (
            "critical_dag_stuck_or_late",
            ("task_running_long", "payments_daily", "charge_cards"),
            "running 25 min, limit 10 min",
            True,
        ),
    ]
    fields = ("event_type", "dag_id", "task_id")
    series = {key: dict(zip(fields, what, strict=True)) for key, what, *_ in findings}
    seeded(
        [
            _failure(project, "orders", "load", now, exception=exception),
            _failure(project, "billing", "bill", now, event_type="task_up_for_retry"),
            _event(
                project,
                now + timedelta(seconds=1),
                event_type="dag_run_failed",
                dag_id="orders",
                run_id="scheduled__2026-01-05T09:00:00+00:00",
                failed_task_ids=["load"],
            ),
            *[
                _event(
                    project,
                    now + timedelta(seconds=second),
                    event_type="third_party_call",
                    dag_id="pay",
                    third_party={**call, **outcome, "target_host": "api.stripe.com"},
                )
                for second, outcome in enumerate(failed_calls)
            ],
            _event(
                project,
                now,
                event_type="third_party_call",
                dag_id="partner_sync",
                third_party={
                    "service": "partner-sftp",
                    "operation": "upload",
                    "outcome": "success",
                    "latency_ms": 8200.0,
                    "target_host": "sftp.partner.example",
                },
            ),
            _event(
                project,
                now - timedelta(hours=5),
                event_type="dag_run_succeeded",
                dag_id="critical_settlements",
            ),
            _event(
                project,
                now,
                event_type="dag_import_error",
                reason="ModuleNotFoundError: No module named 'pandas_gbq'",
                finding={"file": "dags/payments_daily.py"},
                **watchdog,
            ),
            *[
                _event(
                    project,
                    now,
                    **series[key],
                    reason=reason,
                    finding={"critical": critical},
                    **watchdog,
                )
                for key, _, reason, critical in findings
            ],
        ]
    )
    bodies = _policy_incidents(
        project,
        {
            "dag_run_failed": {"dag_id": "orders", "team": "data"},
            "third_party_error_ratio": {"service": "stripe"},
            "third_party_latency": {"service": "partner-sftp"},
            "critical_dag_stale": {"dag_id": "critical_settlements", "team": "data"},
            "dag_import_error": {"file": "dags/payments_daily.py", "team": "data"},
            **{key: {**labels, "team": "data"} for key, labels in series.items()},
        },
    )
    last_success = rfc3339(now - timedelta(hours=5))
    expected = {
        "dag_run_failed": "load failed (try 2 of 3, 12.5 s): ValueError: bad row 7 password=***",
        "task_failure_spike": "load failed (try 2 of 3, 12.5 s): ValueError: bad row 7 "
        "password=***",
        "retry_storm": "bill failed (try 2 of 3, 12.5 s)",
        "third_party_error_ratio": "1x stripe timeout ReadTimeout to api.stripe.com, slowest 95 ms"
        "; 1x stripe error 503 HTTPError to api.stripe.com, slowest 95 ms",
        "third_party_latency": "1x partner-sftp success to sftp.partner.example, slowest 8,200 ms",
        "critical_dag_stale": f"no dag_run_succeeded since {last_success}",
        "dag_import_error": "dag_import_error: ModuleNotFoundError: No module named 'pandas_gbq'",
        "airflow_task_stuck_or_late": "task_stuck: queued for 16 min; pool default_pool has 0 "
        "open slots",
        "critical_dag_stuck_or_late": "task_running_long: running 25 min, limit 10 min",
    }
    composer_metrics = {key for key, body in bodies.items() if key.startswith("composer_")}
    assert set(bodies) == set(expected) | composer_metrics and len(composer_metrics) == 5
    router = _router(router_factory, fakes, emulator)
    for body in bodies.values():
        router.post_incident(body)

    def annotations() -> dict[str, dict[str, str]]:
        return {
            alert["labels"]["incident_id"].removeprefix("i-"): alert["annotations"]
            for payload in fakes["webhook"].bodies()
            for alert in payload["alerts"]
        }

    wait_for(lambda: len(annotations()) == len(bodies), timeout=30, message="every incident")
    told = annotations()
    assert {key: told[key].get("cause") for key in expected} == expected
    for key in composer_metrics:
        assert "cause" not in told[key] and "cause_unavailable" not in told[key], told[key]
    # the failed DAG run in every receiver: its task and error, recurrence, and the links
    task = _pages(fakes, "i-dag_run_failed")[0]
    assert task["payload"]["summary"].startswith(expected["dag_run_failed"] + " | ")
    cause = task["payload"]["custom_details"]["cause"]
    assert cause["error"]["recurrence_text"] == "new: first seen now"
    assert cause["event_type"] == "dag_run_failed" and cause["tasks"][0]["task_id"] == "load"
    links = {link["text"]: link["href"] for link in task["links"]}
    assert links["Task log"] == "https://prod-airflow.example/log?dag_id=orders&task_id=load"
    assert links["DAG run"] == (
        "https://prod-airflow.example/dags/orders/grid?"
        "dag_run_id=scheduled__2026-01-05T09%3A00%3A00%2B00%3A00"
    )
    assert links["Logs Explorer"].startswith("https://console.cloud.google.com/logs/query;query=")
    slack = [str(b) for b in fakes["slack"].bodies() if "load failed (try 2" in str(b)]
    assert slack and "```ValueError: bad row 7 password=***```" in slack[0]


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
        peer = HangingPeer()
        yield peer.target, "did not answer"
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
    setting: Setting,
) -> None:
    emulator, project, seeded, fakes, router_factory = setting
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
    setting: Setting,
) -> None:
    """1,000 incidents in 200 groups (DAGs), each group told again as it grows: one lookup
    per incident, whatever the number of notices that carry it. (Under this load some
    lookups miss the budget: those notices leave with "details unavailable", on time.)

    Each group gets its incidents in two waves (3, then 2, each posted back to back, within
    the group's wait), so it is told twice: the second notice carries the first wave's three
    incidents again (their lookups done, or still going where they missed the budget). That
    is 400 notices carrying 1,600 alerts, where one notice per incident made 1,000 carrying
    3,000: the same lookups, and the router's cost, which is per notice, two fifths."""
    emulator, project, _, fakes, router_factory = setting  # seeded: the metrics exist
    config = f"""
route:
  receiver: hook
  group_by: [dag_id]
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: {fakes["webhook"].url}
"""
    router = router_factory(config, extra_env=_reading(emulator))
    before = _calls(emulator)

    def told() -> set[str]:
        return {
            alert["labels"]["incident_id"]
            for payload in fakes["webhook"].bodies()
            for alert in payload["alerts"]
            if "cause" in alert["annotations"] or "cause_unavailable" in alert["annotations"]
        }

    ids: list[str] = []
    with httpx.Client(base_url=router.url, timeout=30) as client:
        for wave in (range(3), range(3, 5)):
            for group in range(STORM_GROUPS):
                for n in wave:
                    ids.append(f"storm-{group}-{n}")
                    body = _incident(project, ids[-1], "task_failures", dag_id=f"dag-{group}")
                    response = client.post(
                        "/v1/webhooks/cloud-monitoring",
                        json=body,
                        params={"auth_token": INGEST_TOKEN},
                    )
                    assert response.status_code == 200, response.text
            # the wave told (some perhaps "unavailable", their lookups still going) before
            # the next makes each group's second notice
            wait_for(lambda: told() >= set(ids), timeout=180, interval=1, message="the wave")
    # a notice may carry several alerts of its group: count the alerts told, not the notices
    carried = sum(len(payload["alerts"]) for payload in fakes["webhook"].bodies())
    after = _calls(emulator)
    lookups = after.get(LIST, 0) - before.get(LIST, 0)
    # no entries behind these incidents: a lookup is one ListLogEntries (no second round);
    # more alerts told than incidents: notices carried incidents again
    assert len(ids) == 1000 and 0 < lookups <= len(ids) < carried, (lookups, carried)
    assert after.get(GET_METRIC, 0) - before.get(GET_METRIC, 0) <= 1
