"""Schemathesis against a real router process (uvicorn on loopback) from its own OpenAPI
document: no request to any path, ingest and admin alike, valid or not, gets a 5xx; and
after the fuzzing the router is ready and still notifies a valid alert.

The number of examples per operation is bounded (``EXAMPLES``) to keep the suite fast; run
with ``ROUTER_FUZZ_EXAMPLES=500`` for a longer hunt.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from examples.waiting import wait_for
from observability.router.openapi import OPENAPI_PATH
from observability.standins import WebhookStandIn
from tests.router.harness import (
    ADMIN_TOKEN,
    INGEST_TOKEN,
    RouterProcess,
    fuzzed_router_config,
    incident,
)

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("ROUTER_FUZZ_EXAMPLES", "20"))
INGEST_PATHS = {"/v1/webhooks/cloud-monitoring", "/api/v2/alerts"}


@pytest.fixture(scope="module")
def router(
    tmp_path_factory: pytest.TempPathFactory, module_webhook: WebhookStandIn
) -> Iterator[RouterProcess]:
    process = RouterProcess(
        tmp_path_factory.mktemp("fuzz"), fuzzed_router_config(module_webhook.url, "fuzz")
    )
    process.start()
    yield process
    process.close()


@pytest.fixture(scope="module")
def api_schema(router: RouterProcess) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(
        router.url + OPENAPI_PATH, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_gets_a_server_error(
    router: RouterProcess, api_schema: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    """Every operation of the document, with valid (``POSITIVE``) or invalid data.

    Schemathesis's pytest loader cannot read a schema from a fixture under this pytest, so
    each operation's strategy drives a Hypothesis test here.
    """
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result  # an operation the document describes wrongly
        operations.append(result.ok())
    assert len(operations) >= 13
    for operation in operations:
        fuzz(router, operation, mode)


def fuzz(router: RouterProcess, operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
    """``EXAMPLES`` requests to one operation; fails on the first 5xx (shrunk by Hypothesis)."""
    ingest = operation.method.upper() == "POST" and operation.path in INGEST_PATHS
    credentials = f"Bearer {INGEST_TOKEN if ingest else ADMIN_TOKEN}"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def no_server_error(case: schemathesis.Case) -> None:
        # Valid data goes with valid credentials; invalid data keeps whatever Authorization
        # header schemathesis made up, if it made one.
        if mode == GenerationMode.POSITIVE or "Authorization" not in case.headers:
            case.headers["Authorization"] = credentials
        response = case.call(base_url=router.url, timeout=10)
        case.validate_response(response, checks=[not_a_server_error])

    no_server_error()


def test_after_the_fuzzing_a_valid_alert_is_still_notified(
    router: RouterProcess, module_webhook: WebhookStandIn
) -> None:
    assert router.ingest.get("/readyz").status_code == 200
    answer = router.post_incident(incident("after-fuzz", dag_id="after_fuzz"))
    assert answer.status_code == 200
    wait_for(
        lambda: "after-fuzz" in str(module_webhook.bodies()), timeout=30, message="the notification"
    )
    assert "Traceback" not in router.log()


def test_the_document_is_for_admins_only(router: RouterProcess, tmp_path: Path) -> None:
    assert router.ingest.get(OPENAPI_PATH).status_code == 401
    document = router.admin.get(OPENAPI_PATH).json()
    assert {"/v1/webhooks/cloud-monitoring", "/api/v2/alerts", "/api/v2/silences"} <= set(
        document["paths"]
    )
    assert "requestBody" in document["paths"]["/api/v2/silences"]["post"]
