"""Schemathesis over the emulator's REST surface (Logging, Dashboards, the admin endpoints),
from the OpenAPI document the emulator serves, against an emulator process of its own on
loopback: whatever arrives, the answer is never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from observability.emulator.common.rest_common import OPENAPI_PATH
from observability.emulator.process import emulator_process
from observability.gcp import Endpoint

pytestmark = pytest.mark.integration

EXAMPLES = 15  # per operation and generation mode: about 40 s in all


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """An emulator of its own: fuzzing moves its clock and fills its stores."""
    data_dir: Path = tmp_path_factory.mktemp("fuzzed-emulator")
    with emulator_process(data_dir) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def rest_api(fuzzed: Endpoint) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{fuzzed.http_url}{OPENAPI_PATH}")
    schema.config.update(base_url=fuzzed.http_url)
    return schema


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_gets_a_5xx(rest_api: schemathesis.BaseSchema, mode: GenerationMode) -> None:
    """Every operation, with data that fits its schema (positive) and data that does not."""
    server_errors: list[str] = []

    for result in rest_api.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operation = result.ok()

        @given(operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            response = case.call(timeout=30)
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} query={case.query} "
                    f"body={str(case.body)[:200]} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

        try:
            call()
        except Unsatisfiable:  # nothing to make invalid: an operation with no inputs
            assert mode is GenerationMode.NEGATIVE

    assert not server_errors, "\n".join(server_errors)
