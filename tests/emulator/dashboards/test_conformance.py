"""Every public sample dashboard survives the emulator unchanged, and passes validation.

The corpus is ``../shared/conformance/dashboards/**/*.json`` (relative to the project root);
where ``../shared`` is absent, the copies in ``tests/fixtures/dashboards/`` stand in. The
identical-JSON check sends raw REST (httpx), because the client library's REST transport
round-trips through its proto and would itself drop the fields it does not know; the gRPC
read is checked to equal what the proto keeps of the same JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.cloud.monitoring_dashboard_v1 import DashboardsServiceClient
from google.cloud.monitoring_dashboard_v1.types import Dashboard
from google.protobuf import json_format

from observability.emulator.dashboards.validate import validate_dashboard

pytestmark = pytest.mark.integration

_ROOT = Path(__file__).resolve().parents[3]
_SHARED = _ROOT.parent / "shared" / "conformance" / "dashboards"
_FIXTURES = _ROOT / "tests" / "fixtures" / "dashboards"
CORPUS = _SHARED if _SHARED.is_dir() else _FIXTURES
FILES = sorted(CORPUS.rglob("*.json"))
COMPOSER = "google-cloud-composer/cloud-composer-monitoring.json"


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _id(path: Path) -> str:
    return str(path.relative_to(CORPUS))


def test_the_corpus_is_there() -> None:
    assert (CORPUS / COMPOSER).is_file()
    assert (CORPUS / "LICENSE").is_file()
    assert len(FILES) >= (200 if CORPUS == _SHARED else 5)


def test_every_fixture_is_a_verbatim_copy_of_the_corpus() -> None:
    if not _SHARED.is_dir():
        pytest.skip("../shared is absent")
    for path in _FIXTURES.rglob("*.json"):
        assert path.read_bytes() == (_SHARED / path.relative_to(_FIXTURES)).read_bytes()


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_valid_dashboards_pass_validation(path: Path) -> None:
    validate_dashboard(_load(path))


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_create_then_get_returns_the_same_json(
    path: Path, http: httpx.Client, grpc_api: DashboardsServiceClient, project: str
) -> None:
    sent = _load(path)
    created = http.post(f"/v1/projects/{project}/dashboards", json=sent)
    assert created.status_code == 200, created.text
    body = created.json()
    name, etag = body.pop("name"), body.pop("etag")
    assert name.startswith(f"projects/{project}/dashboards/")
    assert etag
    assert body == sent

    got = http.get(f"/v1/{name}")
    assert got.status_code == 200, got.text
    read = got.json()
    assert (read.pop("name"), read.pop("etag")) == (name, etag)
    assert read == sent

    # gRPC readers get what the proto can hold of the same JSON, nothing else and no error.
    expected = Dashboard.pb()()
    json_format.ParseDict(
        {**sent, "name": name, "etag": etag}, expected, ignore_unknown_fields=True
    )
    assert Dashboard.pb(grpc_api.get_dashboard(name=name)) == expected
