"""The Dashboards API through the real google-cloud-monitoring-dashboards client (REST and
gRPC) and raw REST: CRUD, etag concurrency, validate_only, paging, not found, restarts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.api_core import exceptions
from google.cloud.monitoring_dashboard_v1 import DashboardsServiceClient
from google.cloud.monitoring_dashboard_v1.types import Dashboard

from observability import gcp
from observability.emulator.server import EmulatorServer
from observability.gcp import Endpoint

pytestmark = pytest.mark.integration

_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dashboards"


def _composer() -> dict[str, Any]:
    path = _FIXTURES / "google-cloud-composer" / "cloud-composer-monitoring.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _small(title: str = "small") -> dict[str, Any]:
    return {
        "displayName": title,
        "mosaicLayout": {
            "columns": 12,
            "tiles": [
                {
                    "width": 6,
                    "height": 4,
                    "widget": {
                        "title": "failures",
                        "xyChart": {
                            "dataSets": [
                                {
                                    "timeSeriesQuery": {
                                        "timeSeriesFilter": {
                                            "filter": 'metric.type="logging.googleapis.com/'
                                            'user/composer_obs/task_failures"',
                                            "aggregation": {
                                                "alignmentPeriod": "60s",
                                                "perSeriesAligner": "ALIGN_DELTA",
                                            },
                                        }
                                    },
                                    "plotType": "LINE",
                                }
                            ]
                        },
                    },
                },
                {"xPos": 6, "width": 6, "height": 4, "widget": {"text": {"content": "hi"}}},
            ],
        },
        "labels": {"managed-by": ""},
    }


def _proto(data: dict[str, Any]) -> Dashboard:
    return Dashboard.from_json(json.dumps(data))


def _copy(dashboard: Dashboard) -> Dashboard:
    return Dashboard.deserialize(Dashboard.serialize(dashboard))


@pytest.fixture(scope="module", params=["rest", "grpc"])
def client(request: pytest.FixtureRequest, emulator: Endpoint) -> Iterator[DashboardsServiceClient]:
    api = gcp.dashboards_api(emulator, transport=request.param)
    yield api
    api.transport.close()


def _create(http: httpx.Client, project: str, body: dict[str, Any], **params: str) -> Any:
    response = http.post(f"/v1/projects/{project}/dashboards", json=body, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# --- the real client, on both transports ---------------------------------------------------


def test_client_create_get_list_update_delete(
    client: DashboardsServiceClient, project: str
) -> None:
    parent = f"projects/{project}"
    created = client.create_dashboard(parent=parent, dashboard=_proto(_small("one")))
    assert created.name.startswith(f"{parent}/dashboards/")
    assert created.etag
    assert created.display_name == "one"
    assert created.mosaic_layout.tiles[0].widget.xy_chart.data_sets[0].plot_type.name == "LINE"

    got = client.get_dashboard(name=created.name)
    assert got == created

    second = client.create_dashboard(parent=parent, dashboard=_proto(_small("two")))
    names = [d.name for d in client.list_dashboards(parent=parent)]
    assert names == [created.name, second.name]

    got.display_name = "renamed"
    updated = client.update_dashboard(request={"dashboard": got})
    assert updated.display_name == "renamed"
    assert updated.etag and updated.etag != created.etag
    assert client.get_dashboard(name=created.name).display_name == "renamed"

    client.delete_dashboard(name=created.name)
    with pytest.raises(exceptions.NotFound):
        client.get_dashboard(name=created.name)
    assert [d.name for d in client.list_dashboards(parent=parent)] == [second.name]


def test_client_keeps_what_its_proto_knows_of_a_real_dashboard(
    client: DashboardsServiceClient, project: str
) -> None:
    sent = Dashboard.from_json(json.dumps(_composer()), ignore_unknown_fields=True)
    created = client.create_dashboard(parent=f"projects/{project}", dashboard=sent)
    got = client.get_dashboard(name=created.name)
    got.name = got.etag = ""
    assert got == sent


def test_client_stale_etag_is_aborted(client: DashboardsServiceClient, project: str) -> None:
    created = client.create_dashboard(parent=f"projects/{project}", dashboard=_proto(_small()))
    first = _copy(created)
    first.display_name = "first writer"
    client.update_dashboard(request={"dashboard": first})
    late = _copy(created)
    late.display_name = "late writer"
    with pytest.raises(exceptions.Conflict) as caught:  # gRPC raises its subclass Aborted
        client.update_dashboard(request={"dashboard": late})
    assert "etag" in caught.value.message
    if client.transport.kind == "grpc":
        assert isinstance(caught.value, exceptions.Aborted)
    assert client.get_dashboard(name=created.name).display_name == "first writer"


def test_client_validate_only_stores_nothing(client: DashboardsServiceClient, project: str) -> None:
    parent = f"projects/{project}"
    checked = client.create_dashboard(
        request={"parent": parent, "dashboard": _proto(_small()), "validate_only": True}
    )
    assert checked.display_name == "small"
    assert list(client.list_dashboards(parent=parent)) == []
    bad = _proto(_small())
    bad.display_name = ""
    with pytest.raises(exceptions.BadRequest, match="displayName"):
        client.create_dashboard(request={"parent": parent, "dashboard": bad, "validate_only": True})


def test_client_errors(client: DashboardsServiceClient, project: str) -> None:
    missing = f"projects/{project}/dashboards/nope"
    with pytest.raises(exceptions.NotFound):
        client.get_dashboard(name=missing)
    with pytest.raises(exceptions.NotFound):
        client.delete_dashboard(name=missing)
    with pytest.raises(exceptions.NotFound):
        client.update_dashboard(request={"dashboard": _proto({**_small(), "name": missing})})
    with pytest.raises(exceptions.BadRequest, match="etag"):
        client.create_dashboard(
            parent=f"projects/{project}", dashboard=_proto({**_small(), "etag": "abc"})
        )


def test_client_pages(client: DashboardsServiceClient, project: str) -> None:
    parent = f"projects/{project}"
    made = [
        client.create_dashboard(parent=parent, dashboard=_proto(_small(f"d{i}"))).name
        for i in range(5)
    ]
    pager = client.list_dashboards(request={"parent": parent, "page_size": 2})
    pages = [[d.name for d in page.dashboards] for page in pager.pages]
    assert pages == [made[0:2], made[2:4], made[4:5]]


# --- raw REST: what the client cannot show ---------------------------------------------------


def test_rest_dashboard_id_is_honoured_and_unique(http: httpx.Client, project: str) -> None:
    created = _create(http, project, _small(), dashboardId="composer-overview")
    assert created["name"] == f"projects/{project}/dashboards/composer-overview"
    again = http.post(
        f"/v1/projects/{project}/dashboards",
        json=_small(),
        params={"dashboardId": "composer-overview"},
    )
    assert again.status_code == 409
    assert again.json()["error"]["status"] == "ALREADY_EXISTS"


def test_rest_etag_concurrency(http: httpx.Client, project: str) -> None:
    created = _create(http, project, _composer())
    name, etag = created["name"], created["etag"]
    first = http.patch(f"/v1/{name}", json={**created, "displayName": "first"})
    assert first.status_code == 200, first.text
    assert first.json()["etag"] not in ("", etag)

    stale = http.patch(f"/v1/{name}", json={**created, "displayName": "stale"})
    assert stale.status_code == 409
    assert stale.json()["error"]["status"] == "ABORTED"

    without = {k: v for k, v in created.items() if k != "etag"}
    overwrite = http.patch(f"/v1/{name}", json={**without, "displayName": "overwrite"})
    assert overwrite.status_code == 200, overwrite.text
    read = http.get(f"/v1/{name}").json()
    assert read["displayName"] == "overwrite"
    assert read["etag"] == overwrite.json()["etag"]
    assert {k: v for k, v in read.items() if k not in ("name", "etag", "displayName")} == {
        k: v for k, v in _composer().items() if k != "displayName"
    }


def test_rest_update_keeps_unknown_fields_and_checks_the_name(
    http: httpx.Client, project: str
) -> None:
    created = _create(http, project, _small())
    changed = {**created, "someFutureField": {"x": [1, 2]}}
    updated = http.patch(f"/v1/{created['name']}", json=changed)
    assert updated.status_code == 200, updated.text
    assert http.get(f"/v1/{created['name']}").json()["someFutureField"] == {"x": [1, 2]}
    other = http.patch(
        f"/v1/{created['name']}", json={**_small(), "name": f"projects/{project}/dashboards/x"}
    )
    assert other.status_code == 400


def test_rest_validate_only(http: httpx.Client, project: str) -> None:
    checked = http.post(
        f"/v1/projects/{project}/dashboards", json=_small(), params={"validateOnly": "true"}
    )
    assert checked.status_code == 200, checked.text
    assert http.get(f"/v1/projects/{project}/dashboards").json() == {}

    created = _create(http, project, _small())
    dry = http.patch(
        f"/v1/{created['name']}",
        json={**created, "displayName": "dry"},
        params={"validateOnly": "true"},
    )
    assert dry.status_code == 200, dry.text
    assert http.get(f"/v1/{created['name']}").json() == created

    broken = http.patch(
        f"/v1/{created['name']}",
        json={**created, "displayName": ""},
        params={"validateOnly": "true"},
    )
    assert broken.status_code == 400


def test_rest_paging_and_delete(http: httpx.Client, project: str) -> None:
    names = [_create(http, project, _small(f"d{i}"))["name"] for i in range(7)]
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        params = {"pageSize": "3", **({"pageToken": token} if token else {})}
        page = http.get(f"/v1/projects/{project}/dashboards", params=params).json()
        seen += [d["name"] for d in page["dashboards"]]
        pages += 1
        token = page.get("nextPageToken", "")
        if not token:
            break
    assert (seen, pages) == (names, 3)

    bad = http.get(f"/v1/projects/{project}/dashboards", params={"pageToken": "garbage"})
    assert bad.status_code == 400
    foreign = http.get(
        f"/v1/projects/{project}-other/dashboards",
        params={"pageSize": "3", "pageToken": token or _first_token(http, project)},
    )
    assert foreign.status_code == 400

    deleted = http.delete(f"/v1/{names[3]}")
    assert deleted.status_code == 200
    assert deleted.json() == {}
    again = http.delete(f"/v1/{names[3]}")
    assert again.status_code == 404
    assert again.json()["error"]["status"] == "NOT_FOUND"
    left = http.get(f"/v1/projects/{project}/dashboards").json()["dashboards"]
    assert [d["name"] for d in left] == names[:3] + names[4:]


def _first_token(http: httpx.Client, project: str) -> str:
    page = http.get(f"/v1/projects/{project}/dashboards", params={"pageSize": "1"}).json()
    token = page["nextPageToken"]
    assert isinstance(token, str)
    return token


def test_rest_not_found_and_bad_names(http: httpx.Client, project: str) -> None:
    missing = http.get(f"/v1/projects/{project}/dashboards/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == "NOT_FOUND"
    patched = http.patch(f"/v1/projects/{project}/dashboards/nope", json=_small())
    assert patched.status_code == 404
    bad_id = http.post(
        f"/v1/projects/{project}/dashboards", json=_small(), params={"dashboardId": "a b"}
    )
    assert bad_id.status_code == 400
    assert "dashboardId" in bad_id.json()["error"]["message"]


def test_dashboards_survive_a_restart(tmp_path: Path) -> None:
    """A new server on the same data directory (in-process: the process edge is covered by
    the session emulator, and two more process starts would double this file's runtime)."""
    with EmulatorServer(tmp_path) as server, httpx.Client(base_url=server.http_url) as http:
        created = _create(http, "restart", _composer(), dashboardId="kept")
    with EmulatorServer(tmp_path) as server:
        with httpx.Client(base_url=server.http_url) as http:
            assert http.get("/v1/projects/restart/dashboards/kept").json() == created
        api = gcp.dashboards_api(server.endpoint, transport="grpc")
        try:
            assert api.get_dashboard(name=created["name"]).etag == created["etag"]
        finally:
            api.transport.close()


def test_enums_sent_as_integers_are_stored_as_names(
    emulator: Endpoint, http: httpx.Client, project: str
) -> None:
    """The client's REST transport sends ``"plotType": 1``; readers see ``"LINE"``."""
    api = gcp.dashboards_api(emulator, transport="rest")
    try:
        created = api.create_dashboard(parent=f"projects/{project}", dashboard=_proto(_small()))
    finally:
        api.transport.close()
    read = http.get(f"/v1/{created.name}").json()
    data_set = read["mosaicLayout"]["tiles"][0]["widget"]["xyChart"]["dataSets"][0]
    assert data_set["plotType"] == "LINE"
    aggregation = data_set["timeSeriesQuery"]["timeSeriesFilter"]["aggregation"]
    assert aggregation["perSeriesAligner"] == "ALIGN_DELTA"

    raw = _small()
    raw["mosaicLayout"]["tiles"][0]["widget"]["xyChart"]["dataSets"][0]["plotType"] = 2
    raw["dashboardFilters"] = [{"labelKey": "dag_id", "filterType": 1, "futureEnum": 3}]
    stored = _create(http, project, raw)
    assert (
        stored["mosaicLayout"]["tiles"][0]["widget"]["xyChart"]["dataSets"][0]["plotType"]
        == "STACKED_AREA"
    )
    assert stored["dashboardFilters"] == [
        {"labelKey": "dag_id", "filterType": "RESOURCE_LABEL", "futureEnum": 3}
    ]
