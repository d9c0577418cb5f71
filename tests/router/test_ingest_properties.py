"""Any JSON value in any field of an ingest payload gets a 4xx naming the problem, or is
stored; never a 5xx, never an acknowledged request left unstored, never a stuck dispatcher.

Hypothesis replaces one field (at any depth) of a valid Cloud Monitoring webhook (schema
1.2) or Alertmanager ``POST /api/v2/alerts`` body with an arbitrary JSON value, or adds an
unknown field, and posts it to a real router process, on SQLite and on PostgreSQL (whose
text columns refuse NUL and whose JSON refuses NaN, unlike SQLite). After the fuzz the
router must be ready, have set nothing aside, answer its reads, and still notify a valid
alert.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from examples.waiting import wait_for
from observability.standins import WebhookStandIn
from tests.router.harness import INGEST_TOKEN, RouterProcess, fuzzed_router_config, incident
from tests.support.postgres import postgres_bin_dir, postgres_server

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("ROUTER_PROPERTY_EXAMPLES", "150"))

INTERESTING: list[Any] = [
    "",
    "   ",
    "\x00",
    "a\x00b",
    "\r\nBcc: x@example.com",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "\ufeff\u2028\U0001f600",
    "x" * 5000,
    1e308,
    -1e308,
    1e20,
    -1e18,
    2**64,
    -(2**63),
    1.5,
    0,
    True,
    float("nan"),
    float("inf"),
    [],
    {},
    {"": ""},
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(INTERESTING),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``value`` a field can be replaced: each key and index, at any depth."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(paths(item, (*prefix, key)))
        found.append((*prefix, "unknown_field"))  # a field the model has never heard of
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(paths(item, (*prefix, index)))
    return found


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    if isinstance(value, dict):
        return {**value, head: replaced(value.get(head), tuple(rest), new)}
    copy = list(value)
    copy[head] = replaced(copy[head], tuple(rest), new)
    return copy


def webhook_body() -> dict[str, Any]:
    body = incident("prop-incident", dag_id="prop_dag", environment_name="prod")
    body["incident"]["policy_user_labels"] = {"team": "data", "severity": "critical"}
    body["incident"]["metadata"]["user_labels"] = {"owner": "etl"}
    return body


def alertmanager_body() -> list[dict[str, Any]]:
    return [
        {
            "labels": {"alertname": "PropFailed", "dag_id": "prop_dag", "severity": "warning"},
            "annotations": {"summary": "a task failed", "runbook_url": "https://example.com"},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "2262-01-01T00:00:00Z",  # firing: routed, grouped, notified
            "generatorURL": "https://prometheus.example.com/graph",
        }
    ]


ENDPOINTS = {
    "/v1/webhooks/cloud-monitoring": webhook_body,
    "/api/v2/alerts": alertmanager_body,
}
KNOWN_BREAKS: dict[str, list[tuple[tuple[Any, ...], Any]]] = {
    "/v1/webhooks/cloud-monitoring": [
        (("incident", "incident_id"), "a\x00b"),  # was a 503 on PostgreSQL, forever retried
        (("incident", "policy_user_labels", "team"), "data\x00"),
        (("incident", "started_at"), 1e308),
        (("incident", "ended_at"), math.nan),
        (("incident", "policy_user_labels", "team"), 7),
    ],
    "/api/v2/alerts": [
        ((0, "labels", "dag_id"), "prop\x00"),  # routed into a group key PostgreSQL refuses
        ((0, "endsAt"), "9999-12-31T23:59:59-14:00"),
        ((0, "labels", "dag_id"), 7),
    ],
}
"""Values that broke the router once: always tried, before Hypothesis's own."""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def router(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    module_webhook: WebhookStandIn,
) -> Iterator[RouterProcess]:
    directory: Path = tmp_path_factory.mktemp(f"props-{request.param}")
    if request.param == "sqlite":
        process = RouterProcess(directory, fuzzed_router_config(module_webhook.url, "prop"))
        process.start()
        yield process
        process.close()
        return
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    with postgres_server() as url:
        process = RouterProcess(
            directory, fuzzed_router_config(module_webhook.url, "prop"), database_url=url
        )
        process.start()
        yield process
        process.close()


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_any_value_in_any_field_is_refused_with_a_4xx_or_stored(
    router: RouterProcess, endpoint: str
) -> None:
    base = ENDPOINTS[endpoint]()

    @given(path=st.sampled_from(paths(base)), value=json_values)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def post(path: tuple[Any, ...], value: Any) -> None:
        body = json.dumps(replaced(base, path, value))  # NaN and Infinity as JS spells them
        answer = router.ingest.post(
            endpoint,
            content=body,
            params={"auth_token": INGEST_TOKEN},
            headers={"content-type": "application/json"},
        )
        assert answer.status_code == 200 or 400 <= answer.status_code < 500, (
            answer.status_code,
            answer.text,
        )
        if answer.status_code != 200:
            error = answer.json()["error"]
            assert error and answer.json()["status"] == answer.status_code

    for path, value in KNOWN_BREAKS[endpoint]:
        post = example(path=path, value=value)(post)
    post()
    # Every acknowledged request was stored (none set aside), and the reads that show
    # stored alerts answer whatever the fuzz got stored.
    assert router.admin.get("/api/v1/rejected-requests").json() == []
    for read in ("/api/v2/alerts", "/api/v2/alerts/groups"):
        answer = router.admin.get(read)
        assert answer.status_code == 200, answer.text


def test_nul_is_refused_naming_the_field(router: RouterProcess) -> None:
    body = webhook_body()
    body["incident"]["metric"]["labels"]["dag_id"] = "etl\x00"
    answer = router.post_incident(body)
    assert answer.status_code == 422
    assert answer.json()["error"] == "incident.metric.labels.dag_id: must not contain NUL (U+0000)"
    answer = router.ingest.post(
        "/api/v2/alerts",
        json=[{"labels": {"alertname": "x", "a\x00": "b"}}],
        params={"auth_token": INGEST_TOKEN},
    )
    assert answer.status_code == 422 and answer.json()["error"].startswith("0.labels: ")


def test_after_the_fuzz_the_dispatcher_still_notifies(
    router: RouterProcess, module_webhook: WebhookStandIn
) -> None:
    tag = f"after-{router.database_url.split(':')[0]}"
    assert router.post_incident(incident(tag, dag_id="prop_after")).status_code == 200
    wait_for(lambda: tag in str(module_webhook.bodies()), timeout=30, message="the notification")
    assert router.ingest.get("/readyz").status_code == 200
    log = router.log()
    assert "Traceback" not in log and "dispatch:" not in log, log[-3000:]


def test_non_finite_numbers_are_malformed_json() -> None:
    """The property test relies on this: ``json.dumps`` writes NaN as the JSON text NaN."""
    assert json.dumps(math.nan) == "NaN"
