"""The emulator's Composer API, through the real ``google-cloud-orchestration-airflow`` client."""

from __future__ import annotations

import httpx
import pytest
from google.api_core import exceptions

from observability import gcp
from observability.gcp import Endpoint


def _put(emulator: Endpoint, name: str, body: object) -> httpx.Response:
    return httpx.put(f"{emulator.http_url}/v1/emulator/{name}", json=body, timeout=10)


def test_get_and_list_what_the_admin_endpoint_put(emulator: Endpoint, project: str) -> None:
    parent = f"projects/{project}/locations/europe-west1"
    for env in ("prod", "staging", "dev"):
        response = _put(
            emulator,
            f"{parent}/environments/{env}",
            {"config": {"airflowUri": f"https://{env}.composer.example"}, "labels": {"t": env}},
        )
        assert response.status_code == 200, response.text
    client = gcp.composer_api(emulator)
    got = client.get_environment(name=f"{parent}/environments/prod")
    assert got.config.airflow_uri == "https://prod.composer.example"
    assert got.state.name == "RUNNING"
    listed = list(client.list_environments(request={"parent": parent, "page_size": 2}))
    assert [e.name.rsplit("/", 1)[1] for e in listed] == ["dev", "prod", "staging"]
    with pytest.raises(exceptions.NotFound):
        client.get_environment(name=f"{parent}/environments/missing")
    assert list(client.list_environments(parent=f"projects/{project}/locations/asia1")) == []


@pytest.mark.parametrize(
    ("env", "body", "field"),
    [
        ("Bad_Id", {}, "environment id"),
        ("ok", {"config": {"airflowUri": 5}}, "airflowUri"),
        ("ok", {"nope": 1}, "nope"),
        ("ok", [], "JSON object"),
    ],
)
def test_the_admin_endpoint_refuses_what_composer_would_not_return(
    emulator: Endpoint, project: str, env: str, body: object, field: str
) -> None:
    response = _put(emulator, f"projects/{project}/locations/l1/environments/{env}", body)
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]
